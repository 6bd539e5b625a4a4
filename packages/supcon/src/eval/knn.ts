/**
 * The kNN monitor (Wu et al. 2018, as used to track contrastive training): cosine similarity
 * between L2-normalised features, the k most similar training samples vote for their class with
 * weight exp(similarity / τ).
 *
 * @example
 *   const scores = knnScores(train, test.features, { k: 200, temperature: 0.1, classes: 10 });
 *   topKAccuracy(scores, test.labels, 10, 1);
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import type { FeatureSet } from './features.js';

export interface KnnOptions {
  classes: number;
  /** Neighbours, default 200 (capped at the training-set size). */
  k?: number;
  /** τ of the vote weights, default 0.1. */
  temperature?: number;
  /** Queries per chunk (bounds the [chunk, train] similarity matrix), default 256. */
  chunk?: number;
}

/** Class scores [queries, classes] (row-major) for the query features [queries, dim]. */
export function knnScores(train: FeatureSet, queries: Float32Array, options: KnnOptions): Float32Array {
  const { classes, temperature = 0.1, chunk = 256 } = options;
  const k = Math.min(options.k ?? 200, train.count);
  check(Number.isInteger(classes) && classes > 0, 'classes', 'a positive integer', classes);
  check(Number.isInteger(k) && k >= 1, 'k', 'an integer >= 1', options.k);
  check(Number.isFinite(temperature) && temperature > 0, 'temperature', 'a finite number > 0', temperature);
  check(queries.length % train.dim === 0, 'queries', `a multiple of dim=${train.dim} values`, queries.length);
  const count = queries.length / train.dim;
  const scores = new Float32Array(count * classes);
  const bank = tf.tidy(() => normalise(tf.tensor2d(train.features, [train.count, train.dim]))); // [N, D]
  const bankLabels = tf.tensor1d(train.labels, 'int32'); // [N]
  for (let start = 0; start < count; start += chunk) {
    const end = Math.min(count, start + chunk);
    const part = tf.tidy(() => {
      const q = normalise(
        tf.tensor2d(queries.subarray(start * train.dim, end * train.dim), [end - start, train.dim]),
      );
      const similarity = tf.matMul(q, bank, false, true); // [q, N]
      const { values, indices } = tf.topk(similarity, k); // [q, k]
      const weights = tf.exp(tf.div(values, temperature)); // [q, k]
      const votes = tf.oneHot(tf.gather(bankLabels, indices), classes); // [q, k, C]
      return tf.sum(tf.mul(votes, weights.expandDims(2)), 1); // [q, C]
    });
    scores.set(part.dataSync() as Float32Array, start * classes);
    part.dispose();
  }
  tf.dispose([bank, bankLabels]);
  return scores;
}

function normalise(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)); // [n, D]
}
