/**
 * The only stage that differs between methods (besides the head):
 *   supcon: SupCon L_out with labels;  simclr: the same loss without labels (NT-Xent);
 *   ce:     softmax cross-entropy of the classifier's logits, optionally with label smoothing ε
 *           (Szegedy et al. 2016), as torch.nn.functional.cross_entropy(label_smoothing=ε): the target
 *           is (1 − ε)·onehot(y) + ε/C, so L = −(1 − ε)·log p_y − (ε/C)·Σ_c log p_c. A mixed batch
 *           (mixup/cutmix, mix.ts) has soft targets λ·s(y) + (1 − λ)·s(y_π), L = −Σ_c t_c·log p_c
 *           averaged over the rows, whose gradient in the logits is (softmax(z) − t) / rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type FeatureQueue, supConQueueLoss } from '../losses/queue.js';
import { supConLoss } from '../losses/supcon.js';
import type { Method } from './config.js';
import { type BatchMix, mixedTargets } from './mix.js';

/**
 * `output` is the head's output for the views in sample-major order [B·V, D] (unit embeddings for
 * supcon/simclr, logits for ce); `labels` are the B sample labels. With a `queue` (supcon/simclr),
 * the batch is also contrasted with the queue's rows.
 */
export function methodLoss(
  method: Method,
  output: tf.Tensor2D,
  labels: Int32Array,
  views: number,
  options: { temperature: number; baseTemperature?: number; labelSmoothing?: number; mix?: BatchMix },
  queue?: FeatureQueue,
): tf.Scalar {
  const batch = labels.length;
  if (method === 'ce') {
    const classes = output.shape[1]!;
    const epsilon = options.labelSmoothing ?? 0;
    const target = options.mix
      ? tf.tensor2d(mixedTargets(labels, views, classes, epsilon, options.mix), [batch * views, classes])
      : smoothedOneHot(labels, views, classes, epsilon); // [B·V, C]
    return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(output)), 1))) as tf.Scalar;
  }
  const features = tf.reshape(output, [batch, views, -1]); // [B, V, D]
  const { temperature, baseTemperature } = options;
  const opts = baseTemperature === undefined ? { temperature } : { temperature, baseTemperature };
  const sampleLabels = method === 'supcon' ? Array.from(labels) : undefined;
  if (queue) return supConQueueLoss(features, sampleLabels, queue, opts) as tf.Scalar;
  return supConLoss(features, sampleLabels, opts) as tf.Scalar;
}

/** (1 − ε)·onehot(y) + ε/C of every view's label [B·V, C], sample-major. */
function smoothedOneHot(labels: Int32Array, views: number, classes: number, epsilon: number): tf.Tensor {
  const onehot = tf.oneHot(tf.tensor1d(repeat(labels, views), 'int32'), classes); // [B·V, C]
  return epsilon > 0 ? tf.add(tf.mul(onehot, 1 - epsilon), epsilon / classes) : onehot; // [B·V, C]
}

function repeat(labels: Int32Array, views: number): Int32Array {
  const out = new Int32Array(labels.length * views);
  for (let i = 0; i < labels.length; i++) for (let v = 0; v < views; v++) out[i * views + v] = labels[i]!;
  return out;
}
