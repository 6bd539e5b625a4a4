/**
 * Batch normalisation over the channel (last) axis for NHWC activations, with an optional fused
 * residual add and ReLU: y = relu?(gamma * (x - mean) / sqrt(var + eps) + beta + residual?).
 *
 * In training mode it normalises with the batch statistics and updates the running statistics
 * like PyTorch (momentum 0.1, unbiased running variance). When the active backend provides the
 * fused `SupconBatchNorm` kernel (kernels.ts; the native engine has it, with a one-kernel gradient) it is used;
 * otherwise the same maths is composed from standard ops and differentiated by tfjs. Inside
 * `withSyncBatchNorm` (sync_batch_norm.ts) the statistics are those of the global batch over replicas.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  SupconBatchNorm,
  type SupconBatchNormAttrs,
  SupconRunningStats,
  type SupconRunningStatsAttrs,
} from '../kernels.js';
import { syncBatchNormGroup, syncBatchNormTrain } from './sync_batch_norm.js';

export interface BatchNormParams {
  gamma: tf.Variable; // [C]
  beta: tf.Variable; // [C]
  runningMean: tf.Variable; // [C], not trained
  runningVar: tf.Variable; // [C], not trained
}

export interface BatchNormOptions {
  training: boolean;
  relu?: boolean;
  residual?: tf.Tensor; // same shape as x
  epsilon?: number;
  momentum?: number;
}

export function createBatchNorm(channels: number, name: string): BatchNormParams {
  return {
    gamma: tf.variable(tf.ones([channels]), true, `${name}/gamma`),
    beta: tf.variable(tf.zeros([channels]), true, `${name}/beta`),
    runningMean: tf.variable(tf.zeros([channels]), false, `${name}/running_mean`),
    runningVar: tf.variable(tf.ones([channels]), false, `${name}/running_var`),
  };
}

export function batchNorm(x: tf.Tensor, p: BatchNormParams, options: BatchNormOptions): tf.Tensor {
  const { training, relu = false, residual, epsilon = 1e-5, momentum = 0.1 } = options;
  if (!training) {
    let y = tf.batchNorm(x, p.runningMean, p.runningVar, p.beta, p.gamma, epsilon);
    if (residual) y = tf.add(y, residual);
    return relu ? tf.relu(y) : y;
  }
  const group = syncBatchNormGroup();
  let y: tf.Tensor;
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  let count = x.size / (x.shape[x.shape.length - 1] ?? 1);
  if (group) {
    // Under withSyncBatchNorm: the global batch's statistics (sync_batch_norm.ts), the shift K being
    // the running mean, which every replica holds alike.
    ({ y, mean, variance, count } = syncBatchNormTrain(x, p.gamma, p.beta, p.runningMean, epsilon, group));
    if (residual) y = tf.add(y, residual);
    if (relu) y = tf.relu(y);
  } else [y, mean, variance] = batchNormTrain(x, p.gamma, p.beta, residual, epsilon, relu);
  // Running statistics: side effects outside the loss, so they are not part of the gradient.
  tf.tidy(() => {
    const [runningMean, runningVar] = updateRunningStats(p, mean, variance, momentum, count);
    p.runningMean.assign(runningMean);
    p.runningVar.assign(runningVar);
  });
  return y;
}

/** The new running mean and variance [C] (kernels.ts states the rule), in one kernel where the backend has it. */
function updateRunningStats(
  p: BatchNormParams,
  mean: tf.Tensor,
  variance: tf.Tensor,
  momentum: number,
  count: number,
): [tf.Tensor, tf.Tensor] {
  if (tf.getKernel(SupconRunningStats, tf.getBackend())) {
    const inputs: tf.NamedTensorMap = {
      runningMean: p.runningMean,
      runningVar: p.runningVar,
      mean,
      variance,
    };
    const attrs: SupconRunningStatsAttrs = { momentum, count };
    const outs = tf.engine().runKernel(SupconRunningStats, inputs, { ...attrs }) as unknown as tf.Tensor[];
    return [outs[0]!, outs[1]!];
  }
  const unbiased = tf.mul(variance, count / Math.max(1, count - 1)); // [C]
  return [
    tf.add(tf.mul(p.runningMean, 1 - momentum), tf.mul(mean, momentum)),
    tf.add(tf.mul(p.runningVar, 1 - momentum), tf.mul(unbiased, momentum)),
  ];
}

/** Returns [y, batch mean [C], biased batch variance [C]]. */
function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  residual: tf.Tensor | undefined,
  epsilon: number,
  relu: boolean,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (tf.getKernel(SupconBatchNorm, tf.getBackend())) {
    const inputs: tf.NamedTensorMap = { x, scale: gamma, offset: beta };
    if (residual) inputs['residual'] = residual;
    const attrs: SupconBatchNormAttrs = { epsilon, relu, residual: residual !== undefined };
    const outs = tf.engine().runKernel(SupconBatchNorm, inputs, { ...attrs }) as unknown as tf.Tensor[];
    return [outs[0]!, outs[1]!, outs[2]!];
  }
  const axes = x.shape.slice(0, -1).map((_, i) => i); // every axis but channels
  const { mean, variance } = tf.moments(x, axes); // [C], [C]
  let y = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), gamma), beta);
  if (residual) y = tf.add(y, residual);
  if (relu) y = tf.relu(y);
  return [y, mean, variance];
}
