/** Linear probe, kNN monitor and top-k accuracy on synthetic data whose answers are known. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  computeFeatures,
  type FeatureSet,
  fitLinearProbe,
  knnScores,
  linearScores,
  median,
  Random,
  stackedSoftmaxGradients,
  topKAccuracy,
} from 'supcon';

/** Gaussian clusters: class c is centred on 3·e_c (plus an offset to make standardisation matter). */
function clusters(seed: number, count: number, classes: number, dim: number, noise: number): FeatureSet {
  const r = new Random(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(Math.max(r.next(), 1e-12))) * Math.cos(2 * Math.PI * r.next());
  const features = new Float32Array(count * dim);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let d = 0; d < dim; d++) features[i * dim + d] = 5 + (d === c ? 3 : 0) + noise * gauss();
  }
  return { features, labels, count, dim };
}

test('top-k accuracy counts the true label among the k best scores', () => {
  const scores = [0.1, 0.7, 0.2, 0.5, 0.3, 0.2, 0.2, 0.3, 0.5];
  assert.equal(topKAccuracy(scores, [1, 0, 0], 3, 1), 2 / 3);
  assert.equal(topKAccuracy(scores, [2, 1, 0], 3, 1), 0);
  assert.equal(topKAccuracy(scores, [2, 1, 0], 3, 2), 2 / 3);
  assert.equal(topKAccuracy(scores, [2, 1, 0], 3, 3), 1);
  assert.throws(() => topKAccuracy(scores, [0, 1], 3), /argument `scores`/);
});

test('the linear probe separates separable clusters and fails on random labels', () => {
  const train = clusters(1, 600, 5, 8, 0.8);
  const val = clusters(2, 300, 5, 8, 0.8);
  const probe = fitLinearProbe(train, { classes: 5, epochs: 10, validation: val, weightDecays: [0, 1e-3] });
  assert.ok(probe.validationAccuracy > 0.9, `validation accuracy ${probe.validationAccuracy}`);
  const test5 = clusters(3, 300, 5, 8, 0.8);
  const acc = topKAccuracy(linearScores(probe, test5.features), test5.labels, 5);
  assert.ok(acc > 0.9, `test accuracy ${acc}`);
  // Same data and seed: the same probe, weight for weight.
  const again = fitLinearProbe(train, { classes: 5, epochs: 10, validation: val, weightDecays: [0, 1e-3] });
  assert.deepEqual(again.weights, probe.weights);
  // Shuffled labels carry no signal: held-out accuracy must stay near chance (0.2).
  const shuffled = { ...train, labels: new Random(7).shuffle(train.labels.slice()) };
  const noise = fitLinearProbe(shuffled, { classes: 5, epochs: 10 });
  const chance = topKAccuracy(linearScores(noise, test5.features), test5.labels, 5);
  assert.ok(chance < 0.4, `accuracy on random labels ${chance}`);
});

test('the linear probe picks the weight decay with the best validation accuracy', () => {
  const train = clusters(4, 200, 4, 6, 1);
  const val = clusters(5, 200, 4, 6, 1);
  const probe = fitLinearProbe(train, { classes: 4, epochs: 5, validation: val, weightDecays: [1e-4, 50] });
  // A decay of 50 crushes the weights: the small one must win.
  assert.equal(probe.weightDecay, 1e-4);
});

test("the probe's written-out gradient equals automatic differentiation of its loss", () => {
  // K = 3 blocks of C = 4 classes on D = 5 features, b = 6 samples.
  const r = new Random(11);
  const [b, D, K, C] = [6, 5, 3, 4];
  const x = tf.tensor2d(
    Float32Array.from({ length: b * D }, () => r.uniform(-2, 2)),
    [b, D],
  );
  const w = tf.tensor2d(
    Float32Array.from({ length: D * K * C }, () => r.uniform(-1, 1)),
    [D, K * C],
  );
  const bias = tf.tensor1d(Float32Array.from({ length: K * C }, () => r.uniform(-1, 1)));
  const labels = Int32Array.from({ length: b }, () => r.int(0, C));
  const target = tf.reshape(tf.oneHot(tf.tensor1d(labels, 'int32'), C), [b, 1, C]) as tf.Tensor3D;
  const [dW, db] = stackedSoftmaxGradients(x, w, bias, target, K);
  // The loss as the sum over blocks of the mean cross-entropy, each block sliced out on its own.
  const loss = (wv: tf.Tensor, bv: tf.Tensor) =>
    tf.addN(
      Array.from({ length: K }, (_, k) => {
        const logits = tf.add(tf.matMul(x, tf.slice(wv, [0, k * C], [D, C])), tf.slice(bv, [k * C], [C]));
        return tf.neg(tf.mean(tf.sum(tf.mul(tf.reshape(target, [b, C]), tf.logSoftmax(logits)), 1)));
      }),
    ) as tf.Scalar;
  const [eW, eb] = tf.grads(loss)([w, bias]);
  const close = (a: tf.Tensor, e: tf.Tensor) =>
    Math.max(...(tf.abs(tf.sub(a, e)).dataSync() as Float32Array)) /
    Math.max(...(tf.abs(e).dataSync() as Float32Array));
  assert.ok(close(dW, eW!) < 1e-6, `dW relative error ${close(dW, eW!)}`);
  assert.ok(close(db, eb!) < 1e-6, `db relative error ${close(db, eb!)}`);
});

test('candidate weight decays fitted together give each the probe a fit of its own gives', () => {
  // The decays share one stacked weight matrix during the fit; block k must follow exactly the
  // path of a separate fit (same initial weights, batches and schedule, its own L2 term).
  const train = clusters(4, 300, 4, 6, 1);
  const val = clusters(5, 200, 4, 6, 1);
  const together = fitLinearProbe(train, {
    classes: 4,
    epochs: 4,
    validation: val,
    weightDecays: [50, 1e-2],
  });
  const alone = fitLinearProbe(train, { classes: 4, epochs: 4, validation: val, weightDecays: [1e-2] });
  assert.equal(together.weightDecay, 1e-2);
  const worst = (a: Float32Array, b: Float32Array) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
  assert.ok(
    worst(together.weights, alone.weights) < 1e-6,
    `weights differ by ${worst(together.weights, alone.weights)}`,
  );
  assert.ok(worst(together.bias, alone.bias) < 1e-6, `bias differs by ${worst(together.bias, alone.bias)}`);
  assert.equal(together.validationAccuracy, alone.validationAccuracy);
  // And each block's decay acts on it alone: the λ = 50 block fitted beside λ = 0 is crushed.
  const norm = (a: Float32Array) => Math.sqrt(a.reduce((t, x) => t + x * x, 0));
  const free = fitLinearProbe(train, { classes: 4, epochs: 4, validation: val, weightDecays: [0, 50] });
  const crushed = fitLinearProbe(train, { classes: 4, epochs: 4, weightDecays: [50] });
  assert.equal(free.weightDecay, 0);
  assert.ok(
    norm(crushed.weights) < 0.5 * norm(free.weights),
    `${norm(crushed.weights)} vs ${norm(free.weights)}`,
  );
});

test('kNN classifies clusters by cosine similarity and weights votes by exp(sim / τ)', () => {
  const train = clusters(6, 500, 5, 8, 0.5);
  const query = clusters(7, 200, 5, 8, 0.5);
  const scores = knnScores(train, query.features, { classes: 5, k: 20 });
  assert.ok(topKAccuracy(scores, query.labels, 5) > 0.95);
  assert.equal(topKAccuracy(scores, query.labels, 5, 5), 1);
  // One very close neighbour of class 1 against two farther ones of class 0 (k = 3):
  // a sharp τ lets the close one win, a flat τ lets the majority win.
  const bank: FeatureSet = {
    features: Float32Array.from([1, 0, 0.6, 0.8, 0.6, -0.8]),
    labels: Int32Array.from([1, 0, 0]),
    count: 3,
    dim: 2,
  };
  const q = Float32Array.from([1, 0.05]);
  const sharp = knnScores(bank, q, { classes: 2, k: 3, temperature: 0.05 });
  const flat = knnScores(bank, q, { classes: 2, k: 3, temperature: 100 });
  assert.ok(sharp[1]! > sharp[0]!, `sharp ${Array.from(sharp)}`);
  assert.ok(flat[0]! > flat[1]!, `flat ${Array.from(flat)}`);
});

test('computeFeatures runs the encoder once per batch and leaks nothing', () => {
  const before = tf.memory().numTensors;
  const data = Float32Array.from({ length: 10 * 3 }, (_, i) => i);
  let calls = 0;
  const set = computeFeatures(
    (x) => {
      calls++;
      return tf.mul(x, 2);
    },
    10,
    4,
    (a, b) => tf.tensor2d(data.subarray(a * 3, b * 3), [b - a, 3]),
    new Int32Array(10),
  );
  assert.equal(calls, 3);
  assert.equal(set.dim, 3);
  assert.deepEqual(Array.from(set.features.subarray(27)), [54, 56, 58]);
  assert.equal(tf.memory().numTensors, before);
});

test('median: middle value, mean of the two middle values, NaN when empty; input not reordered', () => {
  const xs = [5, 1, 4];
  assert.equal(median(xs), 4);
  assert.deepEqual(xs, [5, 1, 4]);
  assert.equal(median([3, 1, 4, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});
