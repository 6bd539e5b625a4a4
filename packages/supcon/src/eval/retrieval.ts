/**
 * Retrieval metrics of embeddings, as metric learning reports them (Musgrave et al. 2020, "A Metric
 * Learning Reality Check", arXiv 2003.08505; pytorch-metric-learning's AccuracyCalculator).
 *
 * A query q with label y is compared with every gallery item: by cosine similarity (higher is closer)
 * or Euclidean distance (lower is closer). In leave-one-out mode the gallery is the query set itself
 * without q. Ranking the gallery by closeness gives rel_i = 1 when the i-th item has label y, and
 * R = Σ_i rel_i, the gallery items of the query's label. On equal closeness an item of another label
 * ranks first, so a tie never helps a score.
 *
 *   Recall@K    = 1 if rel_i = 1 for some i ≤ K           (a K past the gallery: the whole gallery)
 *   precision@1 = rel_1                                     (equal to Recall@1)
 *   R-precision = (1/R) Σ_{i≤R} rel_i
 *   AP@R        = (1/R) Σ_{i≤R} rel_i · P(i),   P(i) = (1/i) Σ_{j≤i} rel_j;   mAP@R = mean of AP@R
 *
 * Each is averaged over the queries with R > 0. A query whose label is absent from the gallery has no
 * right answer; it is counted in `skippedQueries` and in no average.
 *
 * How it is computed without sorting a whole row: let s_1 ≥ … ≥ s_R be the closeness of the R
 * relevant items and c_m the number of other items at least as close as s_m. The m-th relevant item
 * then has rank m + c_m, so
 *
 *   Recall@K = [1 + c_1 ≤ K],   R-precision = (1/R) #{m : m + c_m ≤ R},   AP@R = (1/R) Σ_{m : m+c_m ≤ R} m / (m + c_m).
 *
 * Only c_m < max(R, K_max) can matter, so just the max(R, K_max) closest other items are kept (a
 * linear-time selection) and sorted. The [queries, gallery] closeness matrix is computed in blocks of
 * at most `blockValues` numbers, so a 10 000 × 60 000 evaluation never holds 600M floats at once.
 *
 * @example
 *   const m = retrievalMetrics(test, train, { metric: 'cosine' });
 *   m.recallAtK[1]; m.mapAtR;
 *   retrievalMetrics(test, 'leave-one-out').rPrecision;
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import type { FeatureSet } from './features.js';

export const RETRIEVAL_METRICS = ['cosine', 'euclidean'] as const;
export type RetrievalMetric = (typeof RETRIEVAL_METRICS)[number];

export interface RetrievalOptions {
  /** 'cosine' (default) or 'euclidean'. */
  metric?: RetrievalMetric;
  /** The K of Recall@K, default [1, 5, 10]. */
  ks?: number[];
  /** Most closeness values computed at once ([block queries, gallery]), default 2^22 (16 MiB). */
  blockValues?: number;
  /** Called after each block with the queries done so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface RetrievalResult {
  metric: RetrievalMetric;
  mode: 'gallery' | 'leave-one-out';
  /** Queries averaged over (those with at least one gallery item of their label). */
  queries: number;
  /** Queries whose label no gallery item has. */
  skippedQueries: number;
  /** Gallery items per query (one fewer than the set in leave-one-out mode). */
  gallerySize: number;
  /** Recall@K for each K asked for, keyed by K. */
  recallAtK: Record<number, number>;
  precisionAt1: number;
  rPrecision: number;
  mapAtR: number;
}

/** The flat record the CLI and the model cards report: Recall@1/5/10 (when measured), precision@1, R-precision, mAP@R. */
export function retrievalScores(m: RetrievalResult): Record<string, number> {
  const recalls = Object.fromEntries(Object.entries(m.recallAtK).map(([k, v]) => [`recallAt${k}`, v]));
  return { ...recalls, precisionAt1: m.precisionAt1, rPrecision: m.rPrecision, mapAtR: m.mapAtR };
}

/** Recall@K, precision@1, R-precision and mAP@R of `queries` against `gallery` (or leave-one-out). */
export function retrievalMetrics(
  queries: FeatureSet,
  gallery: FeatureSet | 'leave-one-out',
  options: RetrievalOptions = {},
): RetrievalResult {
  const { metric = 'cosine', ks = [1, 5, 10], blockValues = 1 << 22, onProgress } = options;
  const leaveOneOut = gallery === 'leave-one-out';
  const g = leaveOneOut ? queries : gallery;
  check(RETRIEVAL_METRICS.includes(metric), 'metric', `one of ${RETRIEVAL_METRICS.join(', ')}`, metric);
  check(
    Array.isArray(ks) && ks.length > 0 && ks.every((k) => Number.isInteger(k) && k >= 1),
    'ks',
    'a non-empty list of integers >= 1',
    ks,
  );
  check(Number.isInteger(blockValues) && blockValues >= 1, 'blockValues', 'an integer >= 1', blockValues);
  checkFeatureSet(queries, 'queries');
  if (!leaveOneOut) checkFeatureSet(g, 'gallery');
  check(g.dim === queries.dim, 'gallery', `features of dimension ${queries.dim}, as the queries`, g.dim);
  const gallerySize = leaveOneOut ? g.count - 1 : g.count;
  check(gallerySize >= 1, 'gallery', 'at least one item per query', gallerySize);

  const maxK = Math.max(...ks);
  const perLabel = new Map<number, number>();
  for (const y of g.labels) perLabel.set(y, (perLabel.get(y) ?? 0) + 1);
  const largestClass = Math.max(...perLabel.values());
  const buffers = {
    relevant: new Float32Array(largestClass),
    others: new Float32Array(g.count),
  };
  const sums = { recall: new Float64Array(ks.length), p1: 0, rPrecision: 0, ap: 0, queries: 0 };
  const rowsPerBlock = Math.max(1, Math.floor(blockValues / g.count));
  const galleryTensor = galleryForm(g, metric); // [G, D] and, for Euclidean, [1, G]
  try {
    for (let start = 0; start < queries.count; start += rowsPerBlock) {
      const end = Math.min(queries.count, start + rowsPerBlock);
      const block = closenessBlock(queries, start, end, galleryTensor, metric); // [end - start, G]
      for (let i = start; i < end; i++) {
        const row = block.subarray((i - start) * g.count, (i - start + 1) * g.count);
        const y = queries.labels[i]!;
        const r = (perLabel.get(y) ?? 0) - (leaveOneOut ? 1 : 0);
        if (r === 0) continue;
        const q = rowMetrics(row, g.labels, y, r, leaveOneOut ? i : -1, ks, maxK, buffers);
        for (let j = 0; j < ks.length; j++) sums.recall[j]! += q.recall[j]!;
        sums.p1 += q.recall1;
        sums.rPrecision += q.rPrecision;
        sums.ap += q.ap;
        sums.queries += 1;
      }
      onProgress?.(end, queries.count);
    }
  } finally {
    tf.dispose(Object.values(galleryTensor));
  }
  check(
    sums.queries > 0,
    'gallery',
    'an item with the label of at least one query',
    `no gallery item of the queries' labels (${queries.count} queries)`,
  );
  const n = sums.queries;
  const recallAtK: Record<number, number> = {};
  ks.forEach((k, j) => {
    recallAtK[k] = sums.recall[j]! / n;
  });
  return {
    metric,
    mode: leaveOneOut ? 'leave-one-out' : 'gallery',
    queries: n,
    skippedQueries: queries.count - n,
    gallerySize,
    recallAtK,
    precisionAt1: sums.p1 / n,
    rPrecision: sums.rPrecision / n,
    mapAtR: sums.ap / n,
  };
}

function checkFeatureSet(f: FeatureSet, name: string): void {
  check(Number.isInteger(f.count) && f.count >= 1, name, 'a feature set of at least one item', f.count);
  check(Number.isInteger(f.dim) && f.dim >= 1, `${name}.dim`, 'an integer >= 1', f.dim);
  check(
    f.features.length === f.count * f.dim,
    `${name}.features`,
    `count × dim = ${f.count * f.dim} values`,
    `${f.features.length} values`,
  );
  check(f.labels.length === f.count, `${name}.labels`, `${f.count} labels`, `${f.labels.length} labels`);
  const bad = f.features.findIndex((v) => !Number.isFinite(v));
  check(bad < 0, `${name}.features`, 'finite numbers', `${f.features[bad]} at index ${bad}`);
}

interface GalleryForm {
  /** [G, D]: unit rows for cosine, as given for Euclidean. */
  items: tf.Tensor2D;
  /** Euclidean only: |g|² [1, G]. */
  squaredNorms?: tf.Tensor2D;
}

function galleryForm(g: FeatureSet, metric: RetrievalMetric): GalleryForm {
  return tf.tidy(() => {
    const items = tf.tensor2d(g.features, [g.count, g.dim]); // [G, D]
    if (metric === 'cosine') return { items: unitRows(items) };
    return { items, squaredNorms: tf.sum(tf.square(items), 1).reshape([1, g.count]) as tf.Tensor2D }; // [1, G]
  });
}

/**
 * Closeness of queries start..end to every gallery item, higher = closer: cosine similarity, or for
 * Euclidean 2 q·g − |g|² = |q|² − |q − g|² (the same order within a row as −|q − g|).
 */
function closenessBlock(
  queries: FeatureSet,
  start: number,
  end: number,
  g: GalleryForm,
  metric: RetrievalMetric,
): Float32Array {
  const out = tf.tidy(() => {
    const q = tf.tensor2d(queries.features.subarray(start * queries.dim, end * queries.dim), [
      end - start,
      queries.dim,
    ]); // [b, D]
    if (metric === 'cosine') return tf.matMul(unitRows(q), g.items, false, true); // [b, G]
    return tf.sub(tf.mul(tf.matMul(q, g.items, false, true), 2), g.squaredNorms!); // [b, G]
  });
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

function unitRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)); // [n, D]
}

/** One query's Recall@K (per K), R-precision and AP@R from its closeness row (see the module doc). */
function rowMetrics(
  row: Float32Array,
  labels: Int32Array,
  y: number,
  r: number,
  self: number,
  ks: number[],
  maxK: number,
  buffers: { relevant: Float32Array; others: Float32Array },
): { recall: number[]; recall1: number; rPrecision: number; ap: number } {
  const relevant = buffers.relevant.subarray(0, r);
  let nr = 0;
  let lowest = Number.POSITIVE_INFINITY;
  for (let j = 0; j < row.length; j++) {
    if (j === self || labels[j] !== y) continue;
    const s = row[j]!;
    relevant[nr++] = s;
    if (s < lowest) lowest = s;
  }
  relevant.sort(); // ascending: s_m = relevant[r - m]
  // Other items less close than every relevant one never count in any c_m.
  const others = buffers.others;
  let no = 0;
  for (let j = 0; j < row.length; j++) {
    if (j === self || labels[j] === y) continue;
    if (row[j]! >= lowest) others[no++] = row[j]!;
  }
  const cap = Math.max(r, maxK);
  if (no > cap) {
    selectLargest(others, no, cap);
    no = cap;
  }
  const closest = others.subarray(0, no).sort(); // ascending
  // c_m = #{others ≥ s_m}, a count that only grows as m grows (s_m falls).
  let c = 0;
  let c1 = 0;
  let inTopR = 0;
  let ap = 0;
  for (let m = 1; m <= r; m++) {
    const s = relevant[r - m]!;
    while (c < no && closest[no - 1 - c]! >= s) c++;
    if (m === 1) c1 = c;
    if (m + c <= r) {
      inTopR++;
      ap += m / (m + c);
    }
  }
  return {
    recall: ks.map((k) => (1 + c1 <= k ? 1 : 0)),
    recall1: c1 === 0 ? 1 : 0,
    rPrecision: inTopR / r,
    ap: ap / r,
  };
}

/** Rearranges a[0..n) so that its `count` largest values come first (in no order): quickselect. */
function selectLargest(a: Float32Array, n: number, count: number): void {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! > pivot) i++;
      while (a[j]! < pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    // Now a[lo..j] ≥ pivot ≥ a[i..hi] and everything between equals the pivot.
    if (count - 1 <= j) hi = j;
    else if (count - 1 >= i) lo = i;
    else return;
  }
}
