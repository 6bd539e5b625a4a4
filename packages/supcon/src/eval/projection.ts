/**
 * A 2-D picture of embeddings for reports and the dashboard: UMAP (umap-js, pure JavaScript, seeded),
 * which keeps each class's neighbourhood together, or the projection onto the two leading principal
 * directions (PCA: linear, exact, instant, but classes a linear probe separates can overlap in it).
 * Both run on a FeatureSet wherever the core runs.
 */
import { UMAP } from 'umap-js';
import { Random } from '../augment/random.js';
import { check } from '../errors.js';
import type { FeatureSet } from './features.js';

export const PROJECTIONS = ['umap', 'pca'] as const;
export type Projection = (typeof PROJECTIONS)[number];

export interface Projected {
  points: [number, number][];
  labels: number[];
  /** The method that drew the points (PCA where UMAP was asked for but cannot run, see `project2`). */
  method: Projection;
}

export interface UmapOptions {
  /** Points used, the first ones of the set (default 3000). */
  maxPoints?: number;
  /** Neighbours of each point in UMAP's graph (default 15, umap-learn's). */
  neighbors?: number;
  /** Optimisation epochs (default 200: 2,000 points in about 5 s on one core). */
  epochs?: number;
  /** Seed of the initial layout and the sampling (default 0): the same seed draws the same picture. */
  seed?: number;
}

/**
 * UMAP of the rows scaled to unit length (the contrastive losses compare directions, so the picture
 * uses cosine geometry). Needs more points than `neighbors`.
 */
export function umap2(
  f: FeatureSet,
  options: UmapOptions = {},
): { points: [number, number][]; labels: number[] } {
  const n = Math.min(f.count, options.maxPoints ?? 3000);
  const neighbors = options.neighbors ?? 15;
  check(Number.isInteger(neighbors) && neighbors >= 2, 'neighbors', 'an integer >= 2', neighbors);
  check(n > neighbors, 'features', `more than ${neighbors} points (the neighbours of each)`, `${n} points`);
  const d = f.dim;
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from(f.features.subarray(i * d, (i + 1) * d));
    const norm = Math.sqrt(row.reduce((s, x) => s + x * x, 0)) || 1;
    rows.push(row.map((x) => x / norm)); // [d], unit length
  }
  const random = new Random(options.seed ?? 0);
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: neighbors,
    minDist: 0.1,
    nEpochs: options.epochs ?? 200,
    random: () => random.next(),
  });
  const points = umap.fit(rows).map((p): [number, number] => [p[0]!, p[1]!]); // [n, 2]
  return { points, labels: Array.from(f.labels.subarray(0, n)) };
}

/**
 * The 2-D picture by `method`; UMAP on fewer points than it needs (16 with the default
 * neighbours) falls back to PCA, and `method` in the result says which one drew it.
 */
export function project2(f: FeatureSet, method: Projection = 'umap', options: UmapOptions = {}): Projected {
  check(PROJECTIONS.includes(method), 'projection', `one of ${PROJECTIONS.join(', ')}`, method);
  const n = Math.min(f.count, options.maxPoints ?? 3000);
  if (method === 'umap' && n > (options.neighbors ?? 15)) return { ...umap2(f, options), method };
  return { ...pca2(f, options.maxPoints), method: 'pca' };
}

/** The two leading principal directions (power iteration with deflation) and the projected points. */
export function pca2(f: FeatureSet, maxPoints = 3000): { points: [number, number][]; labels: number[] } {
  const n = Math.min(f.count, maxPoints);
  const d = f.dim;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += f.features[i * d + j]! / n;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const va = f.features[i * d + a]! - mean[a]!;
      for (let b = 0; b < d; b++) cov[a * d + b]! += (va * (f.features[i * d + b]! - mean[b]!)) / n;
    }
  }
  const dirs: Float64Array[] = [];
  for (let k = 0; k < 2; k++) {
    let v = Float64Array.from({ length: d }, (_, j) => Math.sin(j + 1 + k));
    for (let it = 0; it < 200; it++) {
      const w = new Float64Array(d);
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) w[a]! += cov[a * d + b]! * v[b]!;
      for (const u of dirs) {
        const dot = w.reduce((s, x, j) => s + x * u[j]!, 0);
        for (let j = 0; j < d; j++) w[j]! -= dot * u[j]!;
      }
      const norm = Math.sqrt(w.reduce((s, x) => s + x * x, 0)) || 1;
      v = w.map((x) => x / norm);
    }
    dirs.push(v);
  }
  const points: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const p = dirs.map((u) => u.reduce((s, x, j) => s + x * (f.features[i * d + j]! - mean[j]!), 0));
    points.push([p[0]!, p[1]!]);
  }
  return { points, labels: Array.from(f.labels.subarray(0, n)) };
}
