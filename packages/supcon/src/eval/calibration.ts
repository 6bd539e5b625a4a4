/**
 * Expected calibration error (ECE) of a classifier's confidence, as in Guo et al., "On Calibration
 * of Modern Neural Networks", ICML 2017 (arXiv 1706.04599), Eq. 3. The SupCon paper reports it per
 * corruption severity beside mCE.
 *
 * For n samples with confidence p_i (the largest softmax probability of row i), prediction ŷ_i
 * (the arg max) and label y_i, split [0, 1] into M equal-width bins B_1..B_M and
 *
 *   acc(B)  = (1/|B|) Σ_{i∈B} [ŷ_i = y_i]
 *   conf(B) = (1/|B|) Σ_{i∈B} p_i
 *   ECE     = Σ_m (|B_m| / n) · |acc(B_m) − conf(B_m)|      (empty bins add nothing)
 *
 * Binning convention: bin m (m = 0..M−1) holds the confidences in (m/M, (m+1)/M], with the edges
 * computed as m / M. A confidence of exactly 1 lands in the last bin; a confidence of exactly an
 * inner edge k/M lands in the bin below it (bin k−1). The first bin is closed, [0, 1/M], so a
 * confidence of 0 counts in bin 0 (Guo et al.'s code uses `conf > lower && conf <= upper` and would
 * drop it; a softmax maximum is at least 1/classes, so from logits it never happens). Ties in the
 * arg max go to the lowest class index (as numpy's argmax).
 *
 * @example
 *   const logits = linearScores(probe, test.features); // [n, C]
 *   expectedCalibrationError(logits, test.labels, classes); // 15 bins, e.g. 0.031
 */
import { check } from '../errors.js';

/** The number of bins Guo et al. and the SupCon paper's calibration table use. */
export const CALIBRATION_BINS = 15;

export interface CalibrationBin {
  /** The bin is (lower, upper] (the first one [0, upper]). */
  lower: number;
  upper: number;
  count: number;
  /** Fraction of correct predictions in the bin; NaN when the bin is empty. */
  accuracy: number;
  /** Mean confidence in the bin; NaN when the bin is empty. */
  confidence: number;
}

export interface Calibration {
  /** Expected calibration error, in [0, 1]. */
  ece: number;
  /** Largest |acc(B) − conf(B)| over the non-empty bins (Guo et al.'s MCE). */
  maxError: number;
  bins: CalibrationBin[];
  count: number;
}

/**
 * The largest softmax probability of each row of `logits` ([count, classes] row-major) and its
 * class. Computed in float64 with the row maximum subtracted, so large logits do not overflow.
 */
export function softmaxConfidence(
  logits: ArrayLike<number>,
  classes: number,
): { confidence: Float64Array; predicted: Int32Array } {
  check(Number.isInteger(classes) && classes >= 1, 'classes', 'an integer >= 1', classes);
  check(
    logits.length % classes === 0,
    'logits',
    `a multiple of classes=${classes} values (one row per sample)`,
    `${logits.length} values`,
  );
  const count = logits.length / classes;
  const confidence = new Float64Array(count);
  const predicted = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    let top = logits[i * classes]!;
    for (let c = 1; c < classes; c++) {
      const v = logits[i * classes + c]!;
      if (v > top) {
        top = v;
        best = c;
      }
    }
    // The winner's probability is exp(0) / Σ_c exp(l_c − max).
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[i * classes + c]! - top);
    confidence[i] = 1 / sum;
    predicted[i] = best;
  }
  return { confidence, predicted };
}

/** The bin of a confidence in [0, 1] under the convention above (edges m / bins). */
function binOf(p: number, bins: number): number {
  let m = Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1));
  // p · bins can round across an edge; settle against the edges themselves.
  while (m > 0 && p <= m / bins) m--;
  while (m < bins - 1 && p > (m + 1) / bins) m++;
  return m;
}

/**
 * Reliability bins and ECE from confidences in [0, 1] and whether each prediction was correct.
 * For logits use `calibration` (which takes the softmax maximum first).
 */
export function calibrationFromConfidence(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  bins: number = CALIBRATION_BINS,
): Calibration {
  check(Number.isInteger(bins) && bins >= 1, 'bins', 'an integer >= 1', bins);
  check(
    correct.length === confidence.length,
    'correct',
    `one value per confidence (${confidence.length})`,
    `${correct.length} values`,
  );
  const count = confidence.length;
  check(count > 0, 'confidence', 'at least one sample', `${count} values`);
  const hits = new Float64Array(bins);
  const sums = new Float64Array(bins);
  const counts = new Float64Array(bins);
  for (let i = 0; i < count; i++) {
    const p = confidence[i]!;
    check(p >= 0 && p <= 1, 'confidence', 'probabilities in [0, 1]', `${p} at index ${i}`);
    const m = binOf(p, bins);
    counts[m]! += 1;
    sums[m]! += p;
    if (correct[i]) hits[m]! += 1;
  }
  let ece = 0;
  let maxError = 0;
  const out: CalibrationBin[] = [];
  for (let m = 0; m < bins; m++) {
    const n = counts[m]!;
    const accuracy = n > 0 ? hits[m]! / n : Number.NaN;
    const mean = n > 0 ? sums[m]! / n : Number.NaN;
    if (n > 0) {
      const gap = Math.abs(accuracy - mean);
      ece += (n / count) * gap;
      maxError = Math.max(maxError, gap);
    }
    out.push({ lower: m / bins, upper: (m + 1) / bins, count: n, accuracy, confidence: mean });
  }
  return { ece, maxError, bins: out, count };
}

/**
 * Reliability bins and ECE of a classifier from its logits ([count, classes] row-major, before the
 * softmax; log-probabilities give the same result) and integer labels in 0..classes−1.
 */
export function calibration(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  bins: number = CALIBRATION_BINS,
): Calibration {
  check(
    logits.length === labels.length * classes,
    'logits',
    `${labels.length} × ${classes} values (one row per label)`,
    `${logits.length} values`,
  );
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    check(
      Number.isInteger(l) && l >= 0 && l < classes,
      'labels',
      `integers in 0..${classes - 1}`,
      `${l} at index ${i}`,
    );
  }
  const { confidence, predicted } = softmaxConfidence(logits, classes);
  const correct = Uint8Array.from(predicted, (p, i) => (p === labels[i] ? 1 : 0));
  return calibrationFromConfidence(confidence, correct, bins);
}

/** ECE (definition and binning above) of logits [count, classes] against integer labels. */
export function expectedCalibrationError(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  bins: number = CALIBRATION_BINS,
): number {
  return calibration(logits, labels, classes, bins).ece;
}
