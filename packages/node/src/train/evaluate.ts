/**
 * Evaluation of a trained run: frozen features of the training, validation and test splits (once),
 * a linear probe whose weight decay is chosen on validation, then the test set, looked at once.
 * Also a kNN top-1/top-5 on the test set (DEFAULT_KNN: k 200, the first 10 000 training samples as
 * the bank), recorded with those settings (knn.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import {
  type FeatureSet,
  fitLinearProbe,
  type LinearProbe,
  linearScores,
  type Network,
  topKAccuracy,
} from 'supcon';
import type { Dataset } from '../data/index.js';
import { check } from './check.js';
import { loadCheckpoint, writeFileDurable } from './checkpoint.js';
import { embedImages } from './embed.js';
import { DEFAULT_KNN, evaluateKnn, type KnnResult } from './knn.js';
import { buildNetworks, type PreparedData, prepareData, readSpec, runFiles } from './session.js';
import { augmentSteps, type RunSpec } from './spec.js';

export interface EvalSummary {
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
}

/** Loads a run's encoder with its checkpointed weights. */
export async function loadRunEncoder(
  runDir: string,
  dataset?: Dataset,
): Promise<{ spec: RunSpec; encoder: Network; data: PreparedData }> {
  const spec = readSpec(runDir);
  const data = await prepareData(spec, dataset);
  const { encoder, head } = buildNetworks(spec, data);
  const { state } = loadCheckpoint(runFiles(runDir).checkpoint);
  for (const p of encoder.variables()) {
    const saved = state.variables[`encoder/${p.name}`];
    check(
      saved !== undefined,
      'checkpoint',
      `weights for encoder/${p.name}`,
      Object.keys(state.variables).slice(0, 6),
    );
    p.variable.assign(tf.tensor(saved.values, saved.shape));
  }
  tf.dispose(head.variables().map((p) => p.variable));
  return { spec, encoder, data };
}

export function evaluateEncoder(
  spec: RunSpec,
  encoder: Network,
  data: PreparedData,
  options: { probeEpochs?: number; weightDecays?: number[] } = {},
): { summary: EvalSummary; probe: LinearProbe; test: FeatureSet } {
  const started = performance.now();
  const test = data.dataset.test;
  check(test !== undefined, 'dataset', 'a dataset with a test split', data.dataset.name);
  const { mean, std } = data.dataset;
  const steps = augmentSteps('none', [data.train.height, data.train.width], mean, std).eval;
  const classes = data.dataset.classes.length;
  const trainF = embedImages(encoder, data.train, steps);
  const valF = embedImages(encoder, data.validation, steps);
  const probeEpochs = options.probeEpochs ?? spec.probeEpochs;
  const probe = fitLinearProbe(trainF, {
    classes,
    epochs: probeEpochs,
    validation: valF,
    weightDecays: options.weightDecays ?? [0, 1e-4, 1e-3],
    seed: spec.train.seed,
  });
  // The test set, once, after every choice was made on validation.
  const testF = embedImages(encoder, test, steps);
  const scores = linearScores(probe, testF.features);
  const summary: EvalSummary = {
    validationAccuracy: probe.validationAccuracy,
    testAccuracy: topKAccuracy(scores, testF.labels, classes, 1),
    testTop5: topKAccuracy(scores, testF.labels, classes, Math.min(5, classes)),
    // A small training split gets k lowered to its size; the result says so (knn.requestedK).
    knn: evaluateKnn(trainF, { test: testF }, { ...DEFAULT_KNN, classes, clampK: true }),
    probeWeightDecay: probe.weightDecay,
    probeEpochs,
    featureDim: trainF.dim,
    evalSeconds: (performance.now() - started) / 1000,
  };
  return { summary, probe, test: testF };
}

/** Merges `fields` into the run's summary.json (atomically); a field set to undefined is removed. */
export function updateSummary(runDir: string, fields: Record<string, unknown>): Record<string, unknown> {
  const file = runFiles(runDir).summary;
  const old = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const merged = { ...old, ...fields };
  writeFileDurable(file, `${JSON.stringify(merged, null, 2)}\n`);
  return merged;
}
