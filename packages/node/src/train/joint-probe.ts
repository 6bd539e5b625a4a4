/**
 * The evaluation of a run's joint probe (trained with the encoder, `train.jointProbe`; the core's
 * joint-probe.ts): no probe is fitted. Its top-1 on the clean validation split, then the test set
 * once, plus the same kNN as the separate evaluation (its bank, the first DEFAULT_KNN.bank training
 * images, is all of the training split that is embedded). The result has the shape of `evaluateRun`'s,
 * so `keepProbe` writes it to probe.json like a fitted one; `probe: 'joint'` in the summary says which.
 */
import {
  type FeatureSet,
  JOINT_PROBE_DEFAULTS,
  jointProbeOf,
  type LinearProbe,
  linearScores,
  type Network,
  topKAccuracy,
  UserError,
} from 'supcon';
import { subset } from '../data/index.js';
import { loadCheckpoint } from './checkpoint.js';
import { embedImages } from './embed.js';
import type { EvalSummary, ValidationOnlySummary } from './evaluate.js';
import { DEFAULT_KNN, evaluateKnn } from './knn.js';
import type { ProbeRecord } from './probe-file.js';
import { lastEpochRecord } from './run-common.js';
import { type PreparedData, runFiles } from './session.js';
import { augmentSteps, type RunSpec } from './spec.js';

/** The joint probe in a run's checkpoint, its training top-1 that of the last epoch; a UserError without one. */
export function loadJointProbe(runDir: string): LinearProbe {
  const files = runFiles(runDir);
  const last = lastEpochRecord(files.metrics);
  const probe = jointProbeOf(loadCheckpoint(files.checkpoint).state.variables, last?.probeAccuracy);
  if (!probe)
    throw new UserError(
      `Run \`${runDir}\` has no joint probe (it was trained without --joint-probe): fit a probe with \`supcon linear --run ${runDir}\`.`,
      2,
    );
  return probe;
}

/**
 * The joint probe measured on the validation split, then on the test set once (or, without a test
 * split, on validation only), in `evaluateRun`'s shape.
 *
 * @example
 *   const evaluation = evaluateJointProbe(spec, encoder, data, loadJointProbe(run));
 *   keepProbe(run, evaluation, data, checkpoint);
 */
export function evaluateJointProbe(spec: RunSpec, encoder: Network, data: PreparedData, probe: LinearProbe) {
  const started = performance.now();
  const { mean, std } = data.dataset;
  const steps = augmentSteps('none', [data.train.height, data.train.width], mean, std).eval;
  const classes = data.dataset.classes.length;
  const top = (p: LinearProbe, f: FeatureSet, k: number) =>
    topKAccuracy(linearScores(p, f.features), f.labels, classes, Math.min(k, classes));
  const valF = embedImages(encoder, data.validation, steps);
  const kept: LinearProbe = { ...probe, validationAccuracy: top(probe, valF, 1) };
  const bankSize = Math.min(DEFAULT_KNN.bank, data.train.count);
  const bank = embedImages(
    encoder,
    subset(
      data.train,
      Int32Array.from({ length: bankSize }, (_, i) => i),
    ),
    steps,
  );
  const settings: ProbeRecord['settings'] = {
    epochs: spec.train.epochs,
    batchSize: spec.train.batchSize,
    lr: JOINT_PROBE_DEFAULTS.lr,
    optimizer: 'adam',
    schedule: 'cosine',
    seed: spec.train.seed,
    weightDecay: kept.weightDecay,
    weightDecayCandidates: [kept.weightDecay],
    trainImages: data.train.count,
    validationImages: valF.count,
  };
  const tail = (heldOut: { test: FeatureSet } | { validation: FeatureSet }) => ({
    knn: evaluateKnn(bank, heldOut, { ...DEFAULT_KNN, classes, clampK: true }),
    probeWeightDecay: kept.weightDecay,
    probeEpochs: spec.train.epochs,
    featureDim: valF.dim,
    evalSeconds: (performance.now() - started) / 1000,
    probe: 'joint' as const,
  });
  const test = data.dataset.test;
  if (test) {
    // The test set, once, after everything else.
    const testF = embedImages(encoder, test, steps);
    const summary: EvalSummary = {
      testSet: true,
      validationAccuracy: kept.validationAccuracy,
      testAccuracy: top(kept, testF, 1),
      testTop5: top(kept, testF, 5),
      ...tail({ test: testF }),
    };
    return { summary, probe: kept, settings, test: testF };
  }
  const summary: ValidationOnlySummary = {
    testSet: false,
    validationAccuracy: kept.validationAccuracy,
    validationTop5: top(kept, valF, 5),
    ...tail({ validation: valF }),
  };
  return { summary, probe: kept, settings, validation: valF };
}
