/** Hands a loader batch to TensorFlow.js as tensors. */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './loader.js';

/**
 * `images`: [batch·views, H, W, C] float32, sample-major (the encoder's input; reshape its output
 * to [batch, views, dim] for supConLoss); `labels`: int32 [batch]. The caller disposes both.
 */
export function batchToTensors(batch: Batch): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  const [b, v, h, w, c] = batch.shape;
  return {
    images: tf.tensor4d(batch.images, [b * v, h, w, c], 'float32'),
    labels: tf.tensor1d(batch.labels, 'int32'),
  };
}
