/**
 * Frozen features, computed once: the encoder runs in inference mode over the whole split in
 * batches, and the result is a plain Float32Array the probes then reuse for every epoch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';

/** A feature matrix [count, dim], row-major. */
export interface FeatureSet {
  features: Float32Array;
  labels: Int32Array;
  count: number;
  dim: number;
}

/**
 * Runs `encode` on batches `batch(start, end)` (each an input tensor of `end - start` samples) and
 * concatenates the outputs. Both callbacks' tensors are disposed here.
 *
 * @example
 *   const train = computeFeatures((x) => encoder.predict(x) as tf.Tensor2D, n, 512, (a, b) => images(a, b), labels);
 */
export function computeFeatures(
  encode: (x: tf.Tensor) => tf.Tensor,
  count: number,
  batchSize: number,
  batch: (start: number, end: number) => tf.Tensor,
  labels: Int32Array,
): FeatureSet {
  check(Number.isInteger(count) && count > 0, 'count', 'a positive integer', count);
  check(Number.isInteger(batchSize) && batchSize > 0, 'batchSize', 'a positive integer', batchSize);
  check(labels.length === count, 'labels', `${count} labels`, `${labels.length} labels`);
  let out: Float32Array | undefined;
  let dim = 0;
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    const values = tf.tidy(() => {
      const f = encode(batch(start, end));
      return f.reshape([end - start, -1]); // [b, dim]
    });
    if (!out) {
      dim = values.shape[1]!;
      out = new Float32Array(count * dim);
    }
    out.set(values.dataSync() as Float32Array, start * dim);
    values.dispose();
  }
  return { features: out!, labels, count, dim };
}
