/**
 * The SupCon loss as a tf.LayersModel loss: `model.compile({ optimizer, loss: supConLayersLoss() })`.
 *
 * A layers model outputs [batch, views·dim] (or [batch, views, dim]); the views of one sample sit
 * side by side in its row. tfjs-layers requires targets shaped like the output, so labels travel
 * as `supConTargets(labels, outputWidth)`: each label repeated across the row (only column 0 is read).
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { l2NormalizeRows } from '../models/normalize.js';
import { type SupConOptions, supConLoss } from './supcon.js';

export interface SupConLayersOptions extends Omit<SupConOptions, 'mask' | 'reduction'> {
  /** Views per sample packed in each output row. Default 2. */
  views?: number;
  /** Use the targets as labels (SupCon); false ignores them (SimCLR). Default true. */
  useLabels?: boolean;
  /** L2-normalise each view's embedding inside the loss. Default true. */
  normalize?: boolean;
}

/** A loss function `(yTrue, yPred) => scalar` for `LayersModel.compile`. */
export function supConLayersLoss(
  options: SupConLayersOptions = {},
): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
  const { views = 2, useLabels = true, normalize = true, ...lossOptions } = options;
  check(Number.isInteger(views) && views > 0, 'views', 'an integer > 0', views);
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const batch = yPred.shape[0]!;
      const width = yPred.shape.slice(1).reduce((a, b) => a * b, 1);
      check(width % views === 0, 'yPred', `an output width divisible by views (${views})`, yPred);
      let z = tf.reshape(yPred, [batch, views, width / views]); // [B, V, D]
      if (normalize) z = l2NormalizeRows(z); // [B, V, D], unit rows
      if (!useLabels) return supConLoss(z, undefined, lossOptions);
      const labels =
        yTrue.rank === 1
          ? yTrue
          : tf.reshape(tf.slice(tf.reshape(yTrue, [batch, -1]), [0, 0], [batch, 1]), [batch]);
      return supConLoss(z, tf.cast(tf.round(labels), 'int32') as tf.Tensor1D, lossOptions);
    });
}

/** Targets for `model.fit` with `supConLayersLoss`: labels [batch] repeated to [batch, outputWidth]. */
export function supConTargets(labels: tf.Tensor1D | number[], outputWidth: number): tf.Tensor2D {
  check(Number.isInteger(outputWidth) && outputWidth > 0, 'outputWidth', 'an integer > 0', outputWidth);
  return tf.tidy(() => {
    const l = tf.cast(Array.isArray(labels) ? tf.tensor1d(labels) : labels, 'float32'); // [B]
    return tf.tile(tf.expandDims(l, 1), [1, outputWidth]) as tf.Tensor2D; // [B, width]
  });
}
