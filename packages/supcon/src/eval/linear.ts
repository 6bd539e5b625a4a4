/**
 * The linear probe: a softmax-regression classifier on frozen, standardised features, fitted with
 * Adam on mini-batches and a cosine schedule. Features are computed once (see computeFeatures), so
 * an epoch here costs a few small matrix products, not an encoder pass.
 * With a validation set and several weight decays, the decay with the best validation top-1 wins;
 * the test set is left to the caller, to be looked at once at the end.
 *
 * @example
 *   const probe = fitLinearProbe(train, { classes: 10, validation: val });
 *   topKAccuracy(linearScores(probe, test.features), test.labels, 10);
 */
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../augment/random.js';
import { check } from '../errors.js';
import { Adam } from '../optim/adam.js';
import { learningRate } from '../optim/schedule.js';
import type { FeatureSet } from './features.js';
import { topKAccuracy } from './metrics.js';

/** The probe's defaults, exported so that a kept probe can record the settings that fitted it. */
export const LINEAR_PROBE_DEFAULTS = { epochs: 30, batchSize: 256, lr: 0.01 } as const;

export interface LinearProbeOptions {
  classes: number;
  /** Default 30. */
  epochs?: number;
  /** Default 256. */
  batchSize?: number;
  /** Adam's peak rate, default 0.01 (cosine to 0). */
  lr?: number;
  /** Candidate L2 weight decays; the best on `validation` is kept. Default [1e-4]. */
  weightDecays?: number[];
  validation?: FeatureSet;
  /** Seed of the mini-batch order and initialisation, default 0. */
  seed?: number;
  /** Called after each epoch of each candidate decay (for progress lines); `epoch` counts from 1. */
  onEpoch?: (weightDecay: number, epoch: number) => void;
}

export interface LinearProbe {
  dim: number;
  classes: number;
  /** Standardisation of the features (from the training set). */
  mean: Float32Array;
  std: Float32Array;
  /** [dim, classes] row-major, and [classes]. */
  weights: Float32Array;
  bias: Float32Array;
  weightDecay: number;
  trainAccuracy: number;
  /** NaN without a validation set. */
  validationAccuracy: number;
}

export function fitLinearProbe(train: FeatureSet, options: LinearProbeOptions): LinearProbe {
  const {
    classes,
    epochs = LINEAR_PROBE_DEFAULTS.epochs,
    batchSize = LINEAR_PROBE_DEFAULTS.batchSize,
    lr = LINEAR_PROBE_DEFAULTS.lr,
    weightDecays = [1e-4],
    seed = 0,
  } = options;
  check(Number.isInteger(classes) && classes > 1, 'classes', 'an integer > 1', classes);
  check(Number.isInteger(epochs) && epochs > 0, 'epochs', 'a positive integer', epochs);
  check(weightDecays.length > 0, 'weightDecays', 'at least one weight decay', weightDecays);
  check(
    train.labels.every((l) => l >= 0 && l < classes),
    'labels',
    `integers in 0..${classes - 1}`,
    Array.from(train.labels.slice(0, 6)),
  );
  const { mean, std } = standardisation(train);
  let best: LinearProbe | undefined;
  for (const weightDecay of weightDecays) {
    const onEpoch = options.onEpoch ? (epoch: number) => options.onEpoch!(weightDecay, epoch) : undefined;
    const probe = fitOne(train, { classes, epochs, batchSize, lr, weightDecay, seed, mean, std, onEpoch });
    if (options.validation) {
      const scores = linearScores(probe, options.validation.features);
      probe.validationAccuracy = topKAccuracy(scores, options.validation.labels, classes, 1);
    }
    if (!best || probe.validationAccuracy > best.validationAccuracy) best = probe;
  }
  return best!;
}

/** Class scores (logits) [count, classes] for features [count, dim]. */
export function linearScores(probe: LinearProbe, features: Float32Array): Float32Array {
  check(
    features.length % probe.dim === 0,
    'features',
    `a multiple of dim=${probe.dim} values`,
    features.length,
  );
  const count = features.length / probe.dim;
  return tf.tidy(() => {
    const x = standardise(tf.tensor2d(features, [count, probe.dim]), probe.mean, probe.std); // [n, D]
    const w = tf.tensor2d(probe.weights, [probe.dim, probe.classes]);
    return tf.add(tf.matMul(x, w), tf.tensor1d(probe.bias)).dataSync() as Float32Array; // [n, C]
  });
}

function standardisation(train: FeatureSet): { mean: Float32Array; std: Float32Array } {
  const { dim, count, features } = train;
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  for (let i = 0; i < count; i++) for (let d = 0; d < dim; d++) mean[d]! += features[i * dim + d]! / count;
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dim; d++) std[d]! += (features[i * dim + d]! - mean[d]!) ** 2 / count;
  }
  for (let d = 0; d < dim; d++) std[d] = Math.sqrt(std[d]!) + 1e-6;
  return { mean, std };
}

function standardise(x: tf.Tensor2D, mean: Float32Array, std: Float32Array): tf.Tensor2D {
  return tf.div(tf.sub(x, tf.tensor1d(mean)), tf.tensor1d(std));
}

interface FitConfig {
  classes: number;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  seed: number;
  mean: Float32Array;
  std: Float32Array;
  onEpoch: ((epoch: number) => void) | undefined;
}

function fitOne(train: FeatureSet, c: FitConfig): LinearProbe {
  const { dim, count } = train;
  const x = tf.tidy(() => standardise(tf.tensor2d(train.features, [count, dim]), c.mean, c.std)); // [N, D]
  const y = tf.tensor1d(train.labels, 'int32'); // [N]
  const random = new Random(c.seed);
  // tfjs treats seed 0 as "no seed" (Math.random), hence the + 1.
  const w = tf.variable(tf.randomNormal([dim, c.classes], 0, 0.01, 'float32', (c.seed >>> 0) + 1)); // [D, C]
  const b = tf.variable(tf.zeros([c.classes])); // [C]
  const params = [
    { name: 'probe/kernel', variable: w },
    { name: 'probe/bias', variable: b },
  ];
  const adam = new Adam({ weightDecay: c.weightDecay, excludeFromDecay: (p) => p.variable.rank <= 1 });
  const perEpoch = Math.ceil(count / c.batchSize);
  const schedule = { baseLr: c.lr, totalIterations: c.epochs * perEpoch, decay: 'cosine' as const };
  const order = Int32Array.from({ length: count }, (_, i) => i);
  let it = 0;
  for (let epoch = 0; epoch < c.epochs; epoch++) {
    random.shuffle(order);
    for (let start = 0; start < count; start += c.batchSize) {
      const idx = tf.tensor1d(order.subarray(start, Math.min(count, start + c.batchSize)), 'int32');
      const { grads } = tf.variableGrads(() => {
        const logits = tf.add(tf.matMul(tf.gather(x, idx), w), b); // [b, C]
        const target = tf.oneHot(tf.gather(y, idx), c.classes); // [b, C]
        return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1))) as tf.Scalar;
      });
      adam.step(params, [grads[w.name]!, grads[b.name]!], learningRate(it++, schedule));
      tf.dispose([idx, ...Object.values(grads)]);
    }
    c.onEpoch?.(epoch + 1);
  }
  const probe: LinearProbe = {
    dim,
    classes: c.classes,
    mean: c.mean,
    std: c.std,
    weights: w.dataSync().slice() as Float32Array,
    bias: b.dataSync().slice() as Float32Array,
    weightDecay: c.weightDecay,
    trainAccuracy: 0,
    validationAccuracy: Number.NaN,
  };
  probe.trainAccuracy = topKAccuracy(linearScores(probe, train.features), train.labels, c.classes, 1);
  adam.dispose();
  tf.dispose([x, y, w, b]);
  return probe;
}
