/**
 * A 2-D picture of embeddings for reports: the projection onto their two leading principal
 * directions. Pure JS on a FeatureSet, so it runs wherever the core runs.
 */
import type { FeatureSet } from './features.js';

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
