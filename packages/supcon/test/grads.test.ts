/**
 * `variableGrads` (train/grads.ts) against `tf.variableGrads`: the same value and bit-identical
 * gradients on a residual network with batch norm, a projection head and the SupCon loss; no
 * tensor left behind; and a lower peak of live bytes during the backward pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { projectionHead, smallResNet, supConLoss, variableGrads } from 'supcon';
import { rng } from './helpers.js';

function setup() {
  const encoder = smallResNet({ width: 4, seed: 3 });
  const head = projectionHead({ inputDim: encoder.outputDim, outputDim: 8, seed: 4 });
  const r = rng(5);
  const images = tf.tensor4d(
    Float32Array.from({ length: 12 * 28 * 28 }, () => r()),
    [12, 28, 28, 1],
  ); // [V·N, 28, 28, 1]
  const labels = [0, 1, 2, 0, 1, 2];
  const variables = [...encoder.parameters(), ...head.parameters()].map((p) => p.variable);
  const loss = () =>
    tf.tidy(() => {
      const z = head.apply(encoder.apply(images, true), true) as tf.Tensor2D; // [V·N, 8], unit rows
      const byView = tf.transpose(tf.reshape(z, [2, 6, 8]), [1, 0, 2]); // [N, V, 8]
      return supConLoss(byView, labels, { temperature: 0.1 }) as tf.Scalar;
    });
  const all = [...encoder.variables(), ...head.variables()].map((p) => p.variable);
  return { variables, loss, dispose: () => tf.dispose([images, ...all]) };
}

test('variableGrads equals tf.variableGrads value for value, and leaks nothing', async () => {
  await tf.setBackend('cpu');
  const { variables, loss, dispose } = setup();
  const expected = tf.variableGrads(loss, variables);
  const before = tf.memory().numTensors;
  const actual = variableGrads(loss, variables);
  assert.equal(
    tf.memory().numTensors - before,
    1 + Object.keys(actual.grads).length,
    'only the value and grads remain',
  );
  assert.equal(actual.value.dataSync()[0], expected.value.dataSync()[0]);
  assert.deepEqual(Object.keys(actual.grads).sort(), Object.keys(expected.grads).sort());
  for (const [name, g] of Object.entries(expected.grads)) {
    assert.deepEqual(actual.grads[name]!.dataSync(), g!.dataSync(), `gradient of ${name}`);
  }
  tf.dispose([
    actual.value,
    expected.value,
    ...Object.values(actual.grads),
    ...Object.values(expected.grads),
  ]);
  dispose();
});

test('variableGrads frees saved activations and consumed gradients during the backward pass', async () => {
  await tf.setBackend('cpu');
  // A deep ReLU MLP: every forward output is saved by the next op. tf.variableGrads holds all of
  // them, and every intermediate gradient, to the end of the backward pass; variableGrads frees
  // them as it goes, so live memory falls node by node.
  const r = rng(7);
  const x = tf.tensor2d(
    Float32Array.from({ length: 256 * 64 }, () => r() - 0.5),
    [256, 64],
  ); // [256, 64]
  const weights = Array.from({ length: 8 }, (_, i) =>
    tf.variable(
      tf.tensor2d(
        Float32Array.from({ length: 64 * 64 }, () => (r() - 0.5) * 0.3),
        [64, 64],
      ),
      true,
      `w${i}`,
    ),
  );
  const loss = () => {
    let h: tf.Tensor2D = x;
    for (const w of weights) h = tf.relu(tf.matMul(h, w)) as tf.Tensor2D; // [256, 64]
    return tf.sum(tf.square(h)) as tf.Scalar;
  };
  const live: number[] = [];
  const { value, grads } = variableGrads(loss, weights, { onNode: () => live.push(tf.memory().numBytes) });
  const weightBytes = 8 * 64 * 64 * 4;
  assert.ok(Math.max(...live) <= live[0]! + weightBytes, `live bytes rose during the backward pass: ${live}`);
  assert.ok(live.at(-1)! < 0.5 * live[0]!, `saved activations were not freed: ${live}`);
  tf.dispose([value, ...Object.values(grads)]);
  tf.dispose([x, ...weights]);
});

test('variableGrads refuses a loss that is not a scalar', async () => {
  await tf.setBackend('cpu');
  const v = tf.variable(tf.ones([3]));
  assert.throws(() => variableGrads(() => tf.mul(v, 2) as unknown as tf.Scalar, [v]), /must return a scalar/);
  v.dispose();
});
