/**
 * `globalAvgPool` (models/pool.ts) against a float64 mean over H×W computed in plain JS, values and
 * gradient (the gradient of Σ w ⊙ pool(x) is w[b, c] / (H·W) at every position of channel c), and
 * against tfjs's `tf.mean(x, [1, 2])`, which it replaces in the encoders.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { globalAvgPool } from 'supcon';
import { rng } from './helpers.js';

for (const [b, h, w, c] of [
  [3, 4, 4, 5],
  [2, 7, 7, 3],
  [1, 1, 1, 4],
  [2, 3, 5, 2],
] as const) {
  test(`globalAvgPool [${b}, ${h}, ${w}, ${c}]: the H×W mean and its gradient`, () => {
    const next = rng(7 + h * w);
    const xs = Float32Array.from({ length: b * h * w * c }, () => next() * 4 - 2);
    const ws = Float32Array.from({ length: b * c }, () => next() * 2 - 1);
    const x = tf.tensor4d(xs, [b, h, w, c]);
    const weights = tf.tensor2d(ws, [b, c]);

    const y = globalAvgPool(x);
    assert.deepEqual(y.shape, [b, c]);
    const got = y.dataSync();
    const dx = tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(globalAvgPool(t as tf.Tensor4D), weights)))(x)
      .dataSync();
    for (let n = 0; n < b; n++) {
      for (let k = 0; k < c; k++) {
        let sum = 0;
        for (let p = 0; p < h * w; p++) sum += xs[(n * h * w + p) * c + k]!;
        assert.ok(Math.abs(got[n * c + k]! - sum / (h * w)) <= 1e-6, `mean at [${n}, ${k}]`);
        for (let p = 0; p < h * w; p++) {
          const g = dx[(n * h * w + p) * c + k]!;
          assert.ok(Math.abs(g - ws[n * c + k]! / (h * w)) <= 1e-7, `gradient at [${n}, ${p}, ${k}]: ${g}`);
        }
      }
    }
    const mean = tf.mean(x, [1, 2]).dataSync();
    for (let i = 0; i < mean.length; i++) assert.ok(Math.abs(mean[i]! - got[i]!) <= 1e-6);
  });
}
