/** Top-k accuracy from class scores. */
import { check } from '../errors.js';

/**
 * Fraction of rows whose true label is among the `k` highest scores. `scores` is row-major
 * [count, classes]; ties count against the true label (a strict ranking).
 */
export function topKAccuracy(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  k = 1,
): number {
  const count = labels.length;
  check(
    scores.length === count * classes,
    'scores',
    `${count} × ${classes} values (one row per label)`,
    `${scores.length} values`,
  );
  check(Number.isInteger(k) && k >= 1, 'k', 'an integer >= 1', k);
  if (count === 0) return 0;
  let hits = 0;
  for (let i = 0; i < count; i++) {
    const label = labels[i]!;
    const own = scores[i * classes + label]!;
    let above = 0;
    for (let c = 0; c < classes; c++) if (c !== label && scores[i * classes + c]! >= own) above++;
    if (above < k) hits++;
  }
  return hits / count;
}

/** Index of the highest score in each row. */
export function argmaxRows(scores: ArrayLike<number>, classes: number): Int32Array {
  const count = Math.floor(scores.length / classes);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[i * classes + c]! > scores[i * classes + best]!) best = c;
    out[i] = best;
  }
  return out;
}

/** The median of `xs` (the mean of the two middle values for an even count; NaN when empty). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
