/**
 * Robustness to corruptions, the paper's ImageNet-C comparison at the scale of the datasets here:
 * a linear probe is fitted on clean frozen features (validation picks its weight decay), then the
 * test set is corrupted at every severity and classified by the same probe.
 *
 *   E(c, s) = 1 − top-1 on the test set under corruption c at severity s
 *   CE(c)   = Σ_s E(c, s) / Σ_s E_baseline(c, s)      (with a baseline run)
 *   mCE     = mean over corruptions of CE(c)          (without one: the mean of E over c and s)
 */
import { type Corruption, corruptImages, linearScores, type Network, topKAccuracy } from 'supcon';
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
  seconds: number;
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
): RobustnessResult {
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
  const accuracy: RobustnessResult['accuracy'] = {};
  const total = options.corruptions.length * severities.length;
  let done = 0;
  let errorSum = 0;
  for (const corruption of options.corruptions) {
    const row: number[] = [];
    for (const severity of severities) {
      options.onProgress?.(done, total, `${corruption} ${severity}`);
      const images = corruptImages(set.images, set, corruption, severity, { seed: options.seed ?? 0 });
      const f = embedImages(encoder, { ...set, images }, steps);
      const acc = topKAccuracy(linearScores(probe, f.features), set.labels, classes, 1);
      row.push(acc);
      errorSum += 1 - acc;
      done++;
    }
    accuracy[corruption] = row;
  }
  options.onProgress?.(done, total, 'done');
  return {
    cleanAccuracy,
    accuracy,
    severities,
    meanCorruptionError: errorSum / Math.max(1, total),
    testImages: n,
    seconds: (performance.now() - started) / 1000,
  };
}

/** CE(c) = Σ_s E(c, s) / Σ_s E_base(c, s) for corruptions both results have; mCE is their mean. */
export function relativeCorruptionErrors(
  result: RobustnessResult,
  baseline: RobustnessResult,
): { perCorruption: Partial<Record<Corruption, number>>; mCE: number } {
  const perCorruption: Partial<Record<Corruption, number>> = {};
  const values: number[] = [];
  for (const [name, acc] of Object.entries(result.accuracy) as [Corruption, number[]][]) {
    const base = baseline.accuracy[name];
    if (!base || base.length !== acc.length) continue;
    const err = acc.reduce((s, a) => s + (1 - a), 0);
    const baseErr = base.reduce((s, a) => s + (1 - a), 0);
    if (baseErr <= 0) continue;
    perCorruption[name] = err / baseErr;
    values.push(err / baseErr);
  }
  return {
    perCorruption,
    mCE: values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN,
  };
}
