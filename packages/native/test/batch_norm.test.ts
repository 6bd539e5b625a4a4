/**
 * The fused SupconBatchNorm kernel (native) against the same maths composed from standard ops
 * and differentiated by tfjs (cpu), values and gradients; tfjs's FusedBatchNorm (inference); and the
 * running-statistics update.
 */
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { batchNorm as batchNormLayer, createBatchNorm } from 'supcon';
import { SupconBatchNorm } from 'supcon/kernels';
import { compareBackends, rand, requireNative, withGrads } from './harness.js';

before(requireNative);

const EPS = 1e-5;

/** y = relu?(gamma * (x - mean) / sqrt(var + eps) + beta + r?): the fused kernel on native, ops on cpu. */
function batchNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  relu: boolean,
  r?: tf.Tensor,
): tf.Tensor[] {
  if (tf.getBackend() === 'native') {
    const inputs: tf.NamedTensorMap = { x, scale: gamma, offset: beta };
    if (r) inputs['residual'] = r;
    const attrs = { epsilon: EPS, relu, residual: r !== undefined };
    return tf.engine().runKernel(SupconBatchNorm, inputs, attrs) as unknown as tf.Tensor[];
  }
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  let y = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, EPS))), gamma), beta);
  if (r) y = tf.add(y, r);
  return [relu ? tf.relu(y) : y, mean, variance];
}

const shapes = [
  [4, 5, 5, 3],
  [2, 8, 8, 16],
  [64, 7],
  [8, 4, 4, 64],
  [32, 16, 16, 64],
  // Narrow channels run G rows at a time (batch_norm_impl.inc); these leave rows over.
  [7, 3, 3, 16],
  [5, 3, 3, 32],
];

for (const shape of shapes) {
  const c = shape[shape.length - 1]!;
  for (const relu of [false, true]) {
    for (const residual of [false, true]) {
      test(`SupconBatchNorm ${shape} relu=${relu} residual=${residual}`, async () => {
        await compareBackends(`batchNorm ${shape}`, () => {
          const x = rand(shape, 21, -2, 3);
          const gamma = rand([c], 22, 0.5, 1.5);
          const beta = rand([c], 23);
          const inputs = residual ? [x, gamma, beta, rand(shape, 24)] : [x, gamma, beta];
          const stats = batchNorm(x, gamma, beta, relu, inputs[3]).slice(1);
          const outs = withGrads(inputs, (...xs) => batchNorm(xs[0]!, xs[1]!, xs[2]!, relu, xs[3])[0]!);
          return [...outs, ...stats];
        });
      });
    }
  }
}

test('FusedBatchNorm (inference with moving statistics)', async () => {
  await compareBackends('tf.batchNorm', () => [
    tf.batchNorm(
      rand([2, 4, 4, 6], 25),
      rand([6], 26),
      rand([6], 27, 0.5, 2),
      rand([6], 28),
      rand([6], 29),
      1e-3,
    ),
  ]);
});

// The running-statistics update (SupconRunningStats on native, seven composed ops on cpu), through
// the core's batchNorm in training mode, two steps so the previous statistics matter; [1, 5] has
// one value per channel, where the unbiased variance's n − 1 is clamped to 1.
for (const shape of [
  [2, 4, 4, 6],
  [64, 7],
  [1, 5],
]) {
  test(`SupconRunningStats after two training steps ${shape}`, async () => {
    await compareBackends(
      `running statistics ${shape}`,
      () => {
        const p = createBatchNorm(shape[shape.length - 1]!, 'bn');
        for (const seed of [31, 32])
          batchNormLayer(rand(shape, seed, -2, 3), p, { training: true, momentum: 0.3 });
        const out = [p.runningMean.clone(), p.runningVar.clone()];
        for (const v of Object.values(p)) v.dispose();
        return out;
      },
      1e-6,
    );
  });
}
