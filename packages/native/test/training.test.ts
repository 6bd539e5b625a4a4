/** A tiny conv net trained a few SGD-momentum steps on cpu and on native gives the same losses. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { SupconBatchNorm } from 'supcon/kernels';
import { rand, requireNative } from './harness.js';

before(requireNative);

function bn(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, relu: boolean, r?: tf.Tensor): tf.Tensor {
  if (tf.getBackend() === 'native') {
    const inputs: tf.NamedTensorMap = { x, scale: gamma, offset: beta };
    if (r) inputs['residual'] = r;
    return (
      tf
        .engine()
        .runKernel(SupconBatchNorm, inputs, { epsilon: 1e-5, relu, residual: !!r }) as unknown as tf.Tensor[]
    )[0]!;
  }
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  let y = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
  if (r) y = tf.add(y, r);
  return relu ? tf.relu(y) : y;
}

async function train(backend: string, steps: number, liveTensors: number[] = []): Promise<number[]> {
  await tf.setBackend(backend);
  const v = {
    w1: tf.variable(rand([3, 3, 3, 8], 31, -0.4, 0.4)),
    g1: tf.variable(tf.ones([8])),
    b1: tf.variable(tf.zeros([8])),
    w2: tf.variable(rand([3, 3, 8, 8], 32, -0.2, 0.2)),
    g2: tf.variable(tf.ones([8])),
    b2: tf.variable(tf.zeros([8])),
    wd: tf.variable(rand([8, 4], 33, -0.5, 0.5)),
    bd: tf.variable(tf.zeros([4])),
  };
  const images = rand([16, 8, 8, 3], 34) as tf.Tensor4D;
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4);
  const optimizer = tf.train.momentum(0.1, 0.9);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = optimizer.minimize(() => {
      const h = bn(tf.conv2d(images, v.w1 as tf.Tensor4D, 1, 'same'), v.g1, v.b1, true); // [16, 8, 8, 8]
      const h2 = bn(tf.conv2d(h as tf.Tensor4D, v.w2 as tf.Tensor4D, 1, 'same'), v.g2, v.b2, true, h); // [16, 8, 8, 8]
      const pooled = tf.mean(h2, [1, 2]) as tf.Tensor2D; // [16, 8]
      const logits = tf.add(tf.matMul(pooled, v.wd), v.bd); // [16, 4]
      return tf.losses.softmaxCrossEntropy(labels, logits);
    }, true) as tf.Scalar;
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
    liveTensors.push(tf.memory().numTensors);
  }
  optimizer.dispose();
  tf.dispose([images, labels, ...Object.values(v)]);
  return losses;
}

test('a tiny residual conv net trains identically on cpu and native', async () => {
  const cpu = await train('cpu', 6);
  const native = await train('native', 6);
  assert.ok(cpu[cpu.length - 1]! < cpu[0]!, `the loss should fall on cpu: ${cpu}`);
  for (let i = 0; i < cpu.length; i++) {
    const rel = Math.abs(native[i]! - cpu[i]!) / Math.abs(cpu[i]!);
    assert.ok(rel < 1e-4, `step ${i}: native loss ${native[i]} vs cpu ${cpu[i]} (relative ${rel})`);
  }
});

test('native training steps do not leak tensors', async () => {
  const live: number[] = [];
  await train('native', 4, live);
  // After the first step (which creates the momentum accumulators) the count stays flat.
  assert.deepEqual(live.slice(1), [live[1], live[1], live[1]]);
});
