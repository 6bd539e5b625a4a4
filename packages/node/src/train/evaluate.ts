/**
 * Evaluation of a trained run: frozen features of the training, validation and test splits (once),
 * a linear probe whose weight decay is chosen on validation, then the test set, looked at once.
 * Also a kNN top-1/top-5 on the test set (DEFAULT_KNN: k 200, the first 10 000 training samples as
 * the bank), recorded with those settings (knn.ts). A dataset without a test split (a flat `folder:`
 * dataset) gets `evaluateEncoderOnValidation` instead: the validation split is then the held-out set.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  check,
  type FeatureSet,
  fitLinearProbe,
  LINEAR_PROBE_DEFAULTS,
  type LinearProbe,
  linearScores,
  type Network,
  topKAccuracy,
} from 'supcon';
import type { Dataset } from '../data/index.js';
import { loadCheckpoint, writeFileDurable } from './checkpoint.js';
import { embedImages } from './embed.js';
import { type EvalProgress, EvalProgressTracker, type EvalStage } from './eval-progress.js';
import { DEFAULT_KNN, evaluateKnn, type KnnResult } from './knn.js';
import {
  type CheckpointFingerprint,
  fingerprintFile,
  type ProbeRecord,
  probeRecord,
  saveProbe,
} from './probe-file.js';
import { readSummary } from './run-folder.js';
import { buildNetworks, type PreparedData, prepareData, readSpec, runFiles } from './session.js';
import { augmentSteps, type RunSpec } from './spec.js';

export interface EvalSummary {
  /** The dataset has a test split (see ValidationOnlySummary for one without). */
  testSet: true;
  validationAccuracy: number;
  /** Linear-probe top-1 on the test set, a fraction in [0, 1]. */
  testAccuracy: number;
  testTop5: number;
  /** kNN on the test set, with the k, bank and τ that produced it. */
  knn: KnnResult;
  probeWeightDecay: number;
  /** Epochs the probe was trained for. */
  probeEpochs: number;
  featureDim: number;
  evalSeconds: number;
  /** 'joint': the probe was trained with the encoder (evaluateJointProbe), not fitted after it. */
  probe?: 'joint';
  /**
   * Cross-entropy runs: top-1 of the model's own softmax classifier, read end to end (encoder and
   * the head it was trained with, no probe), on validation and on the test set.
   */
  classifierValidationAccuracy?: number;
  classifierTestAccuracy?: number;
}

/**
 * The evaluation of a run whose dataset has no test split: the probe is fitted on the training
 * part with one fixed weight decay (nothing is chosen on validation, so the validation numbers are
 * an honest held-out estimate), and the probe and kNN are measured on the validation split.
 */
export interface ValidationOnlySummary {
  /** There is no test set: every accuracy here is on the validation split. */
  testSet: false;
  validationAccuracy: number;
  validationTop5: number;
  /** kNN on the validation split, with the k, bank and τ that produced it. */
  knn: KnnResult;
  probeWeightDecay: number;
  probeEpochs: number;
  featureDim: number;
  evalSeconds: number;
  /** 'joint': the probe was trained with the encoder (evaluateJointProbe), not fitted after it. */
  probe?: 'joint';
}

/** The probe's weight decay when there is no test split to keep validation free of choices. */
export const VALIDATION_ONLY_WEIGHT_DECAY = 1e-4;

/** Loads a run's encoder with its checkpointed weights, and the checkpoint's fingerprint. */
export async function loadRunEncoder(
  runDir: string,
  dataset?: Dataset,
): Promise<{
  spec: RunSpec;
  encoder: Network;
  data: PreparedData;
  checkpoint: CheckpointFingerprint;
  /** Cross-entropy runs: the trained softmax classifier, for the end-to-end read-out. */
  classifier?: Network;
}> {
  const spec = readSpec(runDir);
  const data = await prepareData(spec, dataset);
  const { encoder, head } = buildNetworks(spec, data);
  const file = runFiles(runDir).checkpoint;
  if (spec.train.method === 'ce') {
    const checkpoint = loadWeights(file, { encoder, head });
    return { spec, encoder, data, checkpoint, classifier: head };
  }
  tf.dispose(head.variables().map((p) => p.variable));
  return { spec, encoder, data, checkpoint: loadWeights(file, { encoder }) };
}

/**
 * Assigns the `encoder/…` weights of a checkpoint file to `encoder`; returns the file's fingerprint
 * (iteration and SHA-256), which a kept probe records.
 */
export function loadEncoderWeights(encoder: Network, file: string): CheckpointFingerprint {
  return loadWeights(file, { encoder });
}

/**
 * Assigns the `<prefix>/…` weights of one read of a checkpoint file to each network given under
 * that prefix; returns the file's fingerprint.
 */
function loadWeights(file: string, nets: { encoder: Network; head?: Network }): CheckpointFingerprint {
  const { state } = loadCheckpoint(file);
  for (const [prefix, net] of Object.entries(nets)) {
    for (const p of net.variables()) {
      const saved = state.variables[`${prefix}/${p.name}`];
      check(
        saved !== undefined,
        'checkpoint',
        `weights for ${prefix}/${p.name}`,
        Object.keys(state.variables).slice(0, 6),
      );
      p.variable.assign(tf.tensor(saved.values, saved.shape));
    }
  }
  return fingerprintFile(file, state.iteration);
}

/** Options of `evaluateEncoder`. */
export interface EvaluateOptions {
  /** Probe epochs per candidate weight decay (default: the run's `probeEpochs`). */
  probeEpochs?: number;
  /** Candidate weight decays, the best on validation kept (default 0, 1e-4, 1e-3). */
  weightDecays?: number[];
  /** Progress with the time left, after each encoder batch and each probe epoch. */
  onProgress?: (progress: EvalProgress) => void;
  /**
   * The run's trained classifier head (cross-entropy runs): also report its own top-1 on the
   * validation and test features (`classifierValidationAccuracy`, `classifierTestAccuracy`).
   */
  classifier?: Network;
}

/** Top-1 of a classifier head on frozen features (the encoder's outputs, which it was trained on). */
function classifierTop1(classifier: Network, f: FeatureSet, classes: number): number {
  const scores = tf.tidy(() => {
    const logits = classifier.apply(tf.tensor2d(f.features, [f.count, f.dim]), false); // [n, classes]
    return logits.dataSync() as Float32Array;
  });
  return topKAccuracy(scores, f.labels, classes, 1);
}

/** The probe's candidate weight decays (chosen among on validation). */
export const PROBE_WEIGHT_DECAYS = [0, 1e-4, 1e-3] as const;

/** Frozen features of the training and validation splits and a probe fitted on them (both evaluations). */
function fitProbeOnFeatures(
  spec: RunSpec,
  encoder: Network,
  data: PreparedData,
  options: EvaluateOptions,
  weightDecays: number[],
  testImages: number,
) {
  const { mean, std } = data.dataset;
  const steps = augmentSteps('none', [data.train.height, data.train.width], mean, std).eval;
  const classes = data.dataset.classes.length;
  const probeEpochs = options.probeEpochs ?? spec.probeEpochs;
  const tracker = new EvalProgressTracker({
    trainImages: data.train.count,
    validationImages: data.validation.count,
    testImages,
    probeEpochs: probeEpochs * weightDecays.length,
  });
  const report = options.onProgress;
  const embedding = (stage: EvalStage) =>
    report ? { onProgress: (done: number) => report(tracker.update(stage, done)) } : {};
  const trainF = embedImages(encoder, data.train, steps, embedding('train features'));
  const valF = embedImages(encoder, data.validation, steps, embedding('validation features'));
  let epochsDone = 0;
  const probe = fitLinearProbe(trainF, {
    classes,
    epochs: probeEpochs,
    validation: valF,
    weightDecays,
    seed: spec.train.seed,
    ...(report ? { onEpoch: () => report(tracker.update('probe', ++epochsDone)) } : {}),
  });
  const settings: ProbeRecord['settings'] = {
    epochs: probeEpochs,
    batchSize: LINEAR_PROBE_DEFAULTS.batchSize,
    lr: LINEAR_PROBE_DEFAULTS.lr,
    optimizer: 'adam',
    schedule: 'cosine',
    seed: spec.train.seed,
    weightDecay: probe.weightDecay,
    weightDecayCandidates: weightDecays,
    trainImages: trainF.count,
    validationImages: valF.count,
  };
  return { steps, classes, probeEpochs, trainF, valF, probe, settings, embedding };
}

/**
 * What both evaluations report on their held-out split (the test set, or validation when there is
 * none): the probe's top-1 and top-5 there, and the summary's shared tail (a kNN on the same split,
 * the probe's weight decay and epochs, the feature size, the seconds since `started`).
 */
function heldOutResults(
  fit: ReturnType<typeof fitProbeOnFeatures>,
  heldOut: { test: FeatureSet } | { validation: FeatureSet },
  started: number,
) {
  const f = 'test' in heldOut ? heldOut.test : heldOut.validation;
  const { classes, probe, trainF } = fit;
  const scores = linearScores(probe, f.features);
  return {
    top1: topKAccuracy(scores, f.labels, classes, 1),
    top5: topKAccuracy(scores, f.labels, classes, Math.min(5, classes)),
    tail: {
      // A small training split gets k lowered to its size; the result says so (knn.requestedK).
      knn: evaluateKnn(trainF, heldOut, { ...DEFAULT_KNN, classes, clampK: true }),
      probeWeightDecay: probe.weightDecay,
      probeEpochs: fit.probeEpochs,
      featureDim: trainF.dim,
      evalSeconds: (performance.now() - started) / 1000,
    },
  };
}

/**
 * Frozen features of the run's splits, the linear probe chosen on validation, then the test set once.
 * Refuses a dataset without a test split (use evaluateEncoderOnValidation, or evaluateRun for either).
 *
 * @example
 *   const { summary, probe, settings } = evaluateEncoder(spec, encoder, data, { onProgress: (p) => log(p) });
 */
export function evaluateEncoder(
  spec: RunSpec,
  encoder: Network,
  data: PreparedData,
  options: EvaluateOptions = {},
): { summary: EvalSummary; probe: LinearProbe; test: FeatureSet; settings: ProbeRecord['settings'] } {
  const started = performance.now();
  const test = data.dataset.test;
  check(test !== undefined, 'dataset', 'a dataset with a test split', data.dataset.name);
  const weightDecays = options.weightDecays ?? [...PROBE_WEIGHT_DECAYS];
  const fit = fitProbeOnFeatures(spec, encoder, data, options, weightDecays, test.count);
  // The test set, once, after every choice was made on validation.
  const testF = embedImages(encoder, test, fit.steps, fit.embedding('test features'));
  const { top1, top5, tail } = heldOutResults(fit, { test: testF }, started);
  const summary: EvalSummary = {
    testSet: true,
    validationAccuracy: fit.probe.validationAccuracy,
    testAccuracy: top1,
    testTop5: top5,
    ...tail,
  };
  if (options.classifier) {
    summary.classifierValidationAccuracy = classifierTop1(options.classifier, fit.valF, fit.classes);
    summary.classifierTestAccuracy = classifierTop1(options.classifier, testF, fit.classes);
  }
  return { summary, probe: fit.probe, test: testF, settings: fit.settings };
}

/**
 * The validation-only evaluation of a run whose dataset has no test split (a `folder:` dataset
 * without `train/` and `test/`): the probe is fitted on the training part with one weight decay
 * (VALIDATION_ONLY_WEIGHT_DECAY unless `weightDecays` gives exactly one), then the probe and a kNN
 * are measured on the validation split. There is no test accuracy, and the summary says so.
 *
 * @example
 *   const { summary } = evaluateEncoderOnValidation(spec, encoder, data);
 *   summary.testSet; // false
 *   summary.validationAccuracy; // probe top-1 on the held-out validation images
 */
export function evaluateEncoderOnValidation(
  spec: RunSpec,
  encoder: Network,
  data: PreparedData,
  options: EvaluateOptions = {},
): {
  summary: ValidationOnlySummary;
  probe: LinearProbe;
  validation: FeatureSet;
  settings: ProbeRecord['settings'];
} {
  const started = performance.now();
  const weightDecays = options.weightDecays ?? [VALIDATION_ONLY_WEIGHT_DECAY];
  check(
    weightDecays.length === 1,
    'weightDecays',
    'one weight decay when the dataset has no test split (validation is then the reported result, so nothing may be chosen on it)',
    weightDecays,
  );
  const fit = fitProbeOnFeatures(spec, encoder, data, options, weightDecays, 0);
  const { top1, top5, tail } = heldOutResults(fit, { validation: fit.valF }, started);
  const summary: ValidationOnlySummary = {
    testSet: false,
    validationAccuracy: top1,
    validationTop5: top5,
    ...tail,
  };
  return { summary, probe: fit.probe, validation: fit.valF, settings: fit.settings };
}

/**
 * evaluateEncoder when the dataset has a test split, evaluateEncoderOnValidation when it has none;
 * `summary.testSet` tells which.
 */
export function evaluateRun(
  spec: RunSpec,
  encoder: Network,
  data: PreparedData,
  options: EvaluateOptions = {},
): ReturnType<typeof evaluateEncoder> | ReturnType<typeof evaluateEncoderOnValidation> {
  return data.dataset.test
    ? evaluateEncoder(spec, encoder, data, options)
    : evaluateEncoderOnValidation(spec, encoder, data, options);
}

/** One line for a person: the probe's accuracies and whether there was a test set to report. */
export function evalSummaryText(summary: EvalSummary | ValidationOnlySummary): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const probe = `weight decay ${summary.probeWeightDecay}, ${summary.probeEpochs} epochs`;
  if (summary.testSet) {
    const own =
      summary.classifierTestAccuracy === undefined
        ? ''
        : `; the model's own classifier: test top-1 ${pct(summary.classifierTestAccuracy)}, validation ${pct(summary.classifierValidationAccuracy ?? Number.NaN)}`;
    return `test top-1 ${pct(summary.testAccuracy)}, top-5 ${pct(summary.testTop5)}, validation top-1 ${pct(summary.validationAccuracy)} (${probe})${own}`;
  }
  return `validation top-1 ${pct(summary.validationAccuracy)}, top-5 ${pct(summary.validationTop5)} (${probe}); the dataset has no test set (no train/ and test/ folders), so these are validation numbers and there is no test accuracy`;
}

/**
 * Keeps the probe of an evaluation in `runDir/probe.json` (atomically), with the input the encoder
 * takes, the class names, the settings and accuracies, and the checkpoint it was fitted on.
 */
export function keepProbe(
  runDir: string,
  evaluation: Pick<ReturnType<typeof evaluateRun>, 'summary' | 'probe' | 'settings'>,
  data: PreparedData,
  checkpoint: CheckpointFingerprint,
): string {
  const { summary, probe, settings } = evaluation;
  const t = data.train;
  return saveProbe(
    runDir,
    probeRecord(probe, {
      encoder: checkpoint,
      input: {
        shape: [t.height, t.width, t.channels],
        mean: [...data.dataset.mean],
        std: [...data.dataset.std],
      },
      classes: [...data.dataset.classes],
      settings,
      accuracy: {
        train: probe.trainAccuracy,
        validation: summary.validationAccuracy,
        ...(summary.testSet ? { test: summary.testAccuracy, testTop5: summary.testTop5 } : {}),
      },
    }),
  );
}

/** Merges `fields` into the run's summary.json (atomically); a field set to undefined is removed. */
export function updateSummary(runDir: string, fields: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...readSummary(runDir), ...fields };
  writeFileDurable(runFiles(runDir).summary, `${JSON.stringify(merged, null, 2)}\n`);
  return merged;
}
