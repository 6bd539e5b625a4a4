/**
 * The ViT's fused kernels (SupconFusedLayerNorm, SupconFusedGelu exact and tanh, with their gradients) and the
 * native SplitV, against the `cpu` backend: the core's `layerNorm`/`gelu` (transformer_ops.ts) run
 * the kernels on native and their tfjs-op compositions, differentiated by tfjs, on cpu. Values
 * and the gradients of sum(op(...) · r) for every input, relative error ≤ 1e-4 (harness.ts).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { gelu, layerNorm, vitEncoder } from 'supcon';
import { compareBackends, rand, requireNative, withGrads } from './harness.js';

before(requireNative);

// [rows, D] and token shapes [B, T, D]: vit-tiny's [64·50, 192] and its MLP width 768; odd widths
// leave a vector tail; 3·50·192 rows pass the kernels' parallel threshold.
const lnShapes = [
  [4, 7],
  [2, 5, 16],
  [3, 50, 192],
  [8, 50, 192],
  [33, 13],
];
for (const shape of lnShapes) {
  const d = shape[shape.length - 1]!;
  for (const epsilon of [1e-6, 1e-5]) {
    test(`SupconFusedLayerNorm ${shape} ε=${epsilon}`, async () => {
      await compareBackends(`layerNorm ${shape}`, () => {
        // Off-centre rows with a spread, so the mean and the variance both matter.
        const x = tf.add(rand(shape, 41, -2, 2), rand([...shape.slice(0, -1), 1], 42, -3, 3));
        const gamma = rand([d], 43, 0.5, 1.5);
        const beta = rand([d], 44);
        return withGrads([x, gamma, beta], (a, g, b) => layerNorm(a!, g!, b!, epsilon));
      });
    });
  }
}

// Rows of spread ~1e-3 (variance ~1e-7, below ε): the result depends on ε being applied as given.
for (const epsilon of [1e-6, 1e-5]) {
  test(`SupconFusedLayerNorm on rows of small spread, ε=${epsilon}`, async () => {
    await compareBackends('layerNorm small spread', () => {
      const x = tf.add(rand([16, 64], 50, -1e-3, 1e-3), rand([16, 1], 51, -2e-3, 2e-3));
      return withGrads([x, rand([64], 52, 0.5, 1.5), rand([64], 53)], (a, g, b) =>
        layerNorm(a!, g!, b!, epsilon),
      );
    });
  });
}

const geluShapes = [[7], [4, 33], [3, 50, 768]];
// [-6, 6): both tails (Φ → 0 and → 1) and the curved middle; [-3, 1): small outputs, where exact
// and tanh GELU differ by more than the tolerance (on [-6, 6) they agree within 1e-4 of max |y|).
const geluRanges: [number, number][] = [
  [-6, 6],
  [-3, 1],
];
for (const approximate of ['none', 'tanh'] as const) {
  for (const shape of geluShapes) {
    for (const [lo, hi] of geluRanges) {
      test(`SupconFusedGelu ${approximate} ${shape} on [${lo}, ${hi})`, async () => {
        await compareBackends(`gelu ${approximate} ${shape}`, () =>
          withGrads([rand(shape, 45, lo, hi)], (x) => gelu(x!, approximate)),
        );
      });
    }
  }
}

test('SupconFusedGelu at large |x| and zero: finite, x·Φ(x) limits', async () => {
  await compareBackends('gelu tails', () => {
    const x = tf.tensor([-100, -30, -9, 0, 9, 30, 100]);
    return [...withGrads([x], (v) => gelu(v!, 'none')), ...withGrads([x], (v) => gelu(v!, 'tanh'))];
  });
});

for (const [shape, sizes, axis] of [
  [[4, 50, 192], [1, 49], 1],
  [[6, 10], [2, 3, 5], 1],
  [[6, 10], [4, 2], 0],
  [[2, 3, 4, 5], [2, 3], -1],
] as [number[], number[], number][]) {
  test(`SplitV ${shape} into ${sizes} along ${axis}`, async () => {
    await compareBackends(`split ${shape}`, () => tf.split(rand(shape, 46), sizes, axis));
  });
}

// A whole two-block ViT (both GELUs, both pools): the features and the gradient of every
// parameter of sum(features · r) on native (fused kernels, native SplitV) equal those on cpu.
for (const [pool, approximate] of [
  ['cls', 'none'],
  ['mean', 'tanh'],
] as const) {
  test(`a two-block ViT (${pool}, GELU ${approximate}): features and every parameter gradient`, async () => {
    await compareBackends(`vit ${pool}`, () => {
      const size = { patch: 4, dim: 16, depth: 2, heads: 2, mlpRatio: 2, pool, gelu: approximate };
      const vit = vitEncoder({ ...size, inputShape: [8, 8, 1], seed: 3 });
      const images = rand([3, 8, 8, 1], 54, 0, 1); // [B, H, W, C]
      const r = rand([3, 16], 55); // [B, D]
      const vars = vit.parameters().map((p) => p.variable);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(vit.apply(images, true), r)), vars);
      const outs = [value, ...vars.map((v) => grads[v.name]!)];
      const kept = outs.map((t) => t.clone());
      tf.dispose(vars);
      return kept;
    });
  });
}

test('on native the ViT ops run the fused kernels (no Erf, no moments) and leak nothing', async () => {
  assert.ok(await tf.setBackend('native'));
  const x = rand([2, 5, 16], 47);
  const gamma = rand([16], 48);
  const beta = rand([16], 49);
  const before = tf.memory().numTensors;
  const info = await tf.profile(() =>
    tf.tidy(() => {
      const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(gelu(layerNorm(a, g, b)));
      tf.grads(f)([x, gamma, beta]);
    }),
  );
  const names = info.kernels.map((k) => k.name);
  for (const name of [
    'SupconFusedLayerNorm',
    'SupconFusedLayerNormGrad',
    'SupconFusedGelu',
    'SupconFusedGeluGrad',
  ])
    assert.ok(names.includes(name), `${name} did not run: ${names.join(', ')}`);
  for (const name of ['Erf', 'Mean', 'SquaredDifference'])
    assert.ok(!names.includes(name), `${name} ran: ${names.join(', ')}`);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, gamma, beta]);
});
