/**
 * Robustness to corruptions, the paper's ImageNet-C comparison at the scale of the datasets here:
 * a linear probe is fitted on clean frozen features (validation picks its weight decay), then the
 * test set is corrupted at every severity and classified by the same probe.
 *
 *   E(c, s) = 1 − top-1 on the test set under corruption c at severity s
 *   CE(c)   = Σ_s E(c, s) / Σ_s E_baseline(c, s)      (with a baseline run)
 *   mCE     = mean over corruptions of CE(c)          (without one: the mean of E over c and s)
 *
 * Beside top-1, the probe's expected calibration error (ECE, 15 equal-width bins of the largest
 * softmax probability; the core's `expectedCalibrationError`) on the clean test set and under each
 * corruption and severity, and per severity the means of both over corruptions (the paper's Fig. 3
 * and its calibration table).
 */
import {
  CALIBRATION_BINS,
  type Corruption,
  check,
  corruptImages,
  expectedCalibrationError,
  linearScores,
  type Network,
  topKAccuracy,
} from 'supcon';
import { subset } from '../data/index.js';
import { embedImages } from './embed.js';
import { evaluateEncoder } from './evaluate.js';
import type { PreparedData } from './session.js';
import { augmentSteps, type RunSpec } from './spec.js';

export interface RobustnessResult {
  /** Linear-probe top-1 on the clean test images used here. */
  cleanAccuracy: number;
  /** Top-1 per corruption, one value per severity (in the order of `severities`). */
  accuracy: Partial<Record<Corruption, number[]>>;
  severities: number[];
  /** Mean error over corruptions and severities (not normalised). */
  meanCorruptionError: number;
  testImages: number;
  /** The run's dataset (`NAME[:PATH]`); absent in files written by earlier versions. */
  dataset?: string;
  /** Seed of the noise corruptions; absent in files written by earlier versions (which used 0 unless told). */
  seed?: number;
  seconds: number;
  /** Mean top-1 over corruptions at each severity (order of `severities`); absent in earlier files (see severityMeans). */
  meanAccuracyBySeverity?: number[];
  /** Equal-width confidence bins of the ECE figures below (15); the ECE fields are absent in earlier files. */
  calibrationBins?: number;
  /** ECE of the linear probe on the clean test images used here. */
  cleanCalibrationError?: number;
  /** ECE per corruption, one value per severity (in the order of `severities`). */
  calibrationError?: Partial<Record<Corruption, number[]>>;
  /** Mean ECE over corruptions at each severity (order of `severities`). */
  meanCalibrationErrorBySeverity?: number[];
}

/** The fields evaluateRobustness always writes now (older robustness.json files may lack them). */
export type MeasuredRobustness = RobustnessResult &
  Required<
    Pick<
      RobustnessResult,
      | 'meanAccuracyBySeverity'
      | 'calibrationBins'
      | 'cleanCalibrationError'
      | 'calibrationError'
      | 'meanCalibrationErrorBySeverity'
    >
  >;

/**
 * Per severity (order of `result.severities`), the mean over corruptions of top-1 and of ECE. Top-1
 * is recomputed from `accuracy`, so files written before the mean was recorded give it too; ECE is
 * undefined for them (they did not measure it).
 */
export function severityMeans(
  result: Pick<RobustnessResult, 'severities' | 'accuracy' | 'calibrationError'>,
): {
  severities: number[];
  accuracy: number[];
  calibrationError: number[] | undefined;
} {
  const mean = (table: Partial<Record<Corruption, number[]>>, k: number) => {
    const values = Object.values(table).map((row) => row![k]!);
    return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  };
  const calibration = result.calibrationError;
  return {
    severities: result.severities,
    accuracy: result.severities.map((_, k) => mean(result.accuracy, k)),
    calibrationError: calibration ? result.severities.map((_, k) => mean(calibration, k)) : undefined,
  };
}

/** What a robustness result was measured on: a baseline is compared only when this matches. */
export interface RobustnessSetting {
  dataset?: string;
  testImages: number;
  corruptions: Corruption[];
  severities: number[];
  seed?: number;
}

/**
 * How `baseline` was measured differently from `setting`, one phrase per difference (empty: it can
 * be compared). The baseline may hold more corruptions than asked for (they are left out of the mCE);
 * it must hold every corruption asked for, on the same test images, severities and noise seed.
 */
export function baselineDifferences(setting: RobustnessSetting, baseline: RobustnessResult): string[] {
  const out: string[] = [];
  const list = (xs: readonly (string | number)[]) => (xs.length ? xs.join(',') : 'none');
  if (setting.dataset !== undefined && baseline.dataset !== undefined && setting.dataset !== baseline.dataset)
    out.push(`dataset ${setting.dataset} here, ${baseline.dataset} in the baseline`);
  if (setting.testImages !== baseline.testImages)
    out.push(`${setting.testImages} test images here, ${baseline.testImages} in the baseline`);
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  if (list(sorted(setting.severities)) !== list(sorted(baseline.severities)))
    out.push(`severities ${list(setting.severities)} here, ${list(baseline.severities)} in the baseline`);
  const missing = setting.corruptions.filter((c) => baseline.accuracy[c] === undefined);
  if (missing.length > 0) out.push(`corruptions ${list(missing)} missing from the baseline`);
  if (setting.seed !== undefined && baseline.seed !== undefined && setting.seed !== baseline.seed)
    out.push(`noise seed ${setting.seed} here, ${baseline.seed} in the baseline`);
  return out;
}

export function evaluateRobustness(
  spec: RunSpec,
  encoder: Network,
  data: PreparedData,
  options: {
    corruptions: Corruption[];
    severities?: number[];
    /** Use the first N test images (default all). */
    limit?: number;
    probeEpochs?: number;
    seed?: number;
    onProgress?: (done: number, total: number, label: string) => void;
  },
): MeasuredRobustness {
  const started = performance.now();
  const severities = options.severities ?? [1, 2, 3, 4, 5];
  const { probe, test } = evaluateEncoder(
    spec,
    encoder,
    data,
    options.probeEpochs !== undefined ? { probeEpochs: options.probeEpochs } : {},
  );
  const full = data.dataset.test!;
  const n = Math.min(options.limit ?? full.count, full.count);
  const set =
    n === full.count
      ? full
      : subset(
          full,
          Int32Array.from({ length: n }, (_, i) => i),
        );
  const classes = data.dataset.classes.length;
  const steps = augmentSteps('none', [set.height, set.width], data.dataset.mean, data.dataset.std).eval;
  const cleanScores = linearScores(probe, test.features.subarray(0, n * test.dim));
  const cleanAccuracy = topKAccuracy(cleanScores, set.labels, classes, 1);
  const cleanCalibrationError = expectedCalibrationError(cleanScores, set.labels, classes, CALIBRATION_BINS);
  const accuracy: RobustnessResult['accuracy'] = {};
  const calibrationError: RobustnessResult['accuracy'] = {};
  const total = options.corruptions.length * severities.length;
  let done = 0;
  let errorSum = 0;
  for (const corruption of options.corruptions) {
    const row: number[] = [];
    const eceRow: number[] = [];
    for (const severity of severities) {
      options.onProgress?.(done, total, `${corruption} ${severity}`);
      const images = corruptImages(set.images, set, corruption, severity, { seed: options.seed ?? 0 });
      const f = embedImages(encoder, { ...set, images }, steps);
      const scores = linearScores(probe, f.features); // [n, classes] logits of the same probe
      const acc = topKAccuracy(scores, set.labels, classes, 1);
      row.push(acc);
      eceRow.push(expectedCalibrationError(scores, set.labels, classes, CALIBRATION_BINS));
      errorSum += 1 - acc;
      done++;
    }
    accuracy[corruption] = row;
    calibrationError[corruption] = eceRow;
  }
  options.onProgress?.(done, total, 'done');
  const means = severityMeans({ severities, accuracy, calibrationError });
  return {
    cleanAccuracy,
    accuracy,
    severities,
    meanCorruptionError: errorSum / Math.max(1, total),
    testImages: n,
    dataset: spec.data.dataset,
    seed: options.seed ?? 0,
    seconds: (performance.now() - started) / 1000,
    meanAccuracyBySeverity: means.accuracy,
    calibrationBins: CALIBRATION_BINS,
    cleanCalibrationError,
    calibrationError,
    meanCalibrationErrorBySeverity: means.calibrationError!,
  };
}

/**
 * Relative mCE (Hendrycks & Dietterich): the mean over the corruptions both results measured of
 * Σ_s (E(c, s) − E_clean) / Σ_s (E_base(c, s) − E_base,clean), E = 1 − top-1, over `result`'s
 * severities (read at the same severities in `baseline`): how much accuracy corruption costs,
 * relative to what it costs the baseline. Undefined where the baseline loses no accuracy to some
 * corruption (a zero denominator): the result is then not finite (NaN or ±Infinity; null in JSON),
 * never a number made up in its place. Tiny test sets at low severities can get there.
 */
export function relativeMeanCorruptionError(result: RobustnessResult, baseline: RobustnessResult): number {
  const gap = (r: RobustnessResult, name: Corruption) =>
    result.severities.reduce(
      (sum, s) => sum + (1 - r.accuracy[name]![r.severities.indexOf(s)]! - (1 - r.cleanAccuracy)),
      0,
    );
  const shared = (Object.keys(result.accuracy) as Corruption[]).filter(
    (c) => baseline.accuracy[c] !== undefined,
  );
  const ratios = shared.map((c) => gap(result, c) / gap(baseline, c));
  return ratios.reduce((a, b) => a + b, 0) / ratios.length;
}

/**
 * CE(c) = Σ_s E(c, s) / Σ_s E_base(c, s) for every corruption of `result`; mCE is their mean. The
 * baseline must have been measured the same way (baselineDifferences; InvalidArgumentError naming
 * `baseline` otherwise) and have some error on each corruption, so mCE is always a finite number.
 * Corruptions only the baseline has are listed in `baselineOnly` and left out.
 */
export function relativeCorruptionErrors(
  result: RobustnessResult,
  baseline: RobustnessResult,
): {
  perCorruption: Partial<Record<Corruption, number>>;
  mCE: number;
  corruptions: Corruption[];
  baselineOnly: Corruption[];
} {
  const corruptions = Object.keys(result.accuracy) as Corruption[];
  const setting: RobustnessSetting = {
    testImages: result.testImages,
    corruptions,
    severities: result.severities,
    ...(result.dataset !== undefined ? { dataset: result.dataset } : {}),
    ...(result.seed !== undefined ? { seed: result.seed } : {}),
  };
  const differences = baselineDifferences(setting, baseline);
  check(
    differences.length === 0,
    'baseline',
    'a robustness result measured on the same test images, severities, corruptions and seed',
    differences.join('; '),
  );
  const perCorruption: Partial<Record<Corruption, number>> = {};
  const values: number[] = [];
  const errorSum = (acc: number[], severities: number[], keep: number[]) =>
    keep.reduce((sum, s) => sum + (1 - acc[severities.indexOf(s)]!), 0);
  for (const name of corruptions) {
    const err = errorSum(result.accuracy[name]!, result.severities, result.severities);
    const baseErr = errorSum(baseline.accuracy[name]!, baseline.severities, result.severities);
    check(
      baseErr > 0,
      'baseline',
      `a baseline with some error on ${name} (CE divides by it)`,
      `top-1 ${baseline.accuracy[name]!.join(', ')}`,
    );
    perCorruption[name] = err / baseErr;
    values.push(err / baseErr);
  }
  const baselineOnly = (Object.keys(baseline.accuracy) as Corruption[]).filter(
    (c) => !corruptions.includes(c),
  );
  return { perCorruption, mCE: values.reduce((a, b) => a + b, 0) / values.length, corruptions, baselineOnly };
}
