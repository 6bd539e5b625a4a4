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
  const probes = fitStacked(train, {
    classes,
    epochs,
    batchSize,
    lr,
    weightDecays,
    seed,
    mean,
    std,
    ...(options.onEpoch ? { onEpoch: options.onEpoch } : {}),
  });
  let best: LinearProbe | undefined;
  for (const probe of probes) {
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

/**
 * The gradients of K softmax regressions side by side, Σ_k mean_b cross-entropy(x·W_k + b_k, y),
 * written out instead of taped: with p the softmax of each block, dL/dlogits = (p − y)/b, so
 * dW = xᵀ·(p − y)/b and db = Σ_b (p − y)/b. Exported for its test against automatic differentiation.
 *
 * @param x [b, D] features; w [D, K·C]; bias [K·C]; target [b, 1, C] one-hot
 * @returns [dW [D, K·C], db [K·C]]
 */
export function stackedSoftmaxGradients(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  bias: tf.Tensor1D,
  target: tf.Tensor3D,
  blocks: number,
): [tf.Tensor2D, tf.Tensor1D] {
  return tf.tidy(() => {
    const n = x.shape[0];
    const C = target.shape[2];
    const logits = tf.reshape(tf.add(tf.matMul(x, w), bias), [n, blocks, C]); // [b, K, C]
    const dLogits = tf.reshape(tf.div(tf.sub(tf.softmax(logits), target), n), [n, blocks * C]); // [b, K·C]
    return [tf.matMul(x, dLogits, true, false), tf.sum(dLogits, 0)]; // [D, K·C], [K·C]
  });
}

interface FitConfig {
  classes: number;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecays: readonly number[];
  seed: number;
  mean: Float32Array;
  std: Float32Array;
  onEpoch?: (weightDecay: number, epoch: number) => void;
}

/**
 * One probe per weight decay, all fitted at once: their K weight matrices side by side as one
 * [D, K·C] matrix (K·C columns, K·C biases), so a mini-batch costs one matrix product for all of
 * them instead of one each. The K fits do not interact: block k's logits use only its own columns,
 * the loss is the sum of the K cross-entropies, and its L2 term (bias excluded, as torch.optim.Adam
 * with weight_decay on the weights only) is λ_k on block k; Adam is element-wise. So each block
 * follows exactly the path a separate fit with the same seed would: the same initial weights
 * (one seeded draw, repeated K times), the same mini-batch order, the same schedule.
 * The batches are copied out of a standardised, shuffled copy of the features each epoch (no
 * gather on the gradient tape).
 */
function fitStacked(train: FeatureSet, c: FitConfig): LinearProbe[] {
  const { dim, count } = train;
  const K = c.weightDecays.length;
  const C = c.classes;
  const xs = new Float32Array(count * dim); // [N, D] standardised
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dim; d++) xs[i * dim + d] = (train.features[i * dim + d]! - c.mean[d]!) / c.std[d]!;
  }
  const random = new Random(c.seed);
  // tfjs treats seed 0 as "no seed" (Math.random), hence the + 1.
  const w: tf.Variable<tf.Rank.R2> = tf.variable(
    tf.tidy(() => {
      const w0: tf.Tensor2D = tf.randomNormal([dim, C], 0, 0.01, 'float32', (c.seed >>> 0) + 1); // [D, C]
      return K === 1
        ? w0
        : tf.concat2d(
            Array.from({ length: K }, () => w0),
            1,
          ); // [D, K·C]
    }),
  );
  const b: tf.Variable<tf.Rank.R1> = tf.variable(tf.zeros<tf.Rank.R1>([K * C])); // [K·C]
  const decayRow = tf.tensor2d(
    Float32Array.from({ length: K * C }, (_, j) => c.weightDecays[Math.floor(j / C)]!),
    [1, K * C],
  ); // [1, K·C]: λ of each column's block
  const anyDecay = c.weightDecays.some((l) => l > 0);
  const params = [
    { name: 'probe/kernel', variable: w },
    { name: 'probe/bias', variable: b },
  ];
  const adam = new Adam();
  const perEpoch = Math.ceil(count / c.batchSize);
  const schedule = { baseLr: c.lr, totalIterations: c.epochs * perEpoch, decay: 'cosine' as const };
  const order = Int32Array.from({ length: count }, (_, i) => i);
  const xBatch = new Float32Array(c.batchSize * dim);
  const yBatch = new Float32Array(c.batchSize * C);
  let it = 0;
  for (let epoch = 0; epoch < c.epochs; epoch++) {
    random.shuffle(order);
    for (let start = 0; start < count; start += c.batchSize) {
      const n = Math.min(count, start + c.batchSize) - start;
      yBatch.fill(0);
      for (let r = 0; r < n; r++) {
        const i = order[start + r]!;
        xBatch.set(xs.subarray(i * dim, (i + 1) * dim), r * dim);
        yBatch[r * C + train.labels[i]!] = 1;
      }
      const x = tf.tensor2d(xBatch.subarray(0, n * dim), [n, dim]); // [b, D]
      const target = tf.tensor3d(yBatch.subarray(0, n * C), [n, 1, C]); // [b, 1, C] one-hot
      const [gw, gb] = tf.tidy(() => {
        const [dW, db] = stackedSoftmaxGradients(x, w, b, target, K); // [D, K·C], [K·C]
        return [anyDecay ? tf.add(dW, tf.mul(w, decayRow)) : dW, db];
      });
      adam.step(params, [gw, gb], learningRate(it++, schedule));
      tf.dispose([x, target, gw, gb]);
    }
    for (const weightDecay of c.weightDecays) c.onEpoch?.(weightDecay, epoch + 1);
  }
  const all = w.dataSync() as Float32Array; // [D, K·C]
  const bias = b.dataSync() as Float32Array; // [K·C]
  const probes = c.weightDecays.map((weightDecay, k): LinearProbe => {
    const weights = new Float32Array(dim * C); // [D, C], block k
    for (let d = 0; d < dim; d++)
      weights.set(all.subarray(d * K * C + k * C, d * K * C + (k + 1) * C), d * C);
    const probe: LinearProbe = {
      dim,
      classes: C,
      mean: c.mean,
      std: c.std,
      weights,
      bias: bias.slice(k * C, (k + 1) * C),
      weightDecay,
      trainAccuracy: 0,
      validationAccuracy: Number.NaN,
    };
    probe.trainAccuracy = topKAccuracy(linearScores(probe, train.features), train.labels, C, 1);
    return probe;
  });
  adam.dispose();
  tf.dispose([w, b, decayRow]);
  return probes;
}
