/**
 * The ViT's fused kernels (SupconFusedLayerNorm, SupconFusedGelu exact and tanh, SupconScaledSoftmax, with
 * their gradients) and the native SplitV, Slice, PadV2 and Concat, against the `cpu` backend: the core's `layerNorm`/`gelu` (transformer_ops.ts) run
 * the kernels on native and their tfjs-op compositions, differentiated by tfjs, on cpu. Values
 * and the gradients of sum(op(...) · r) for every input, relative error ≤ 1e-4 (harness.ts).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  autocastMatMul,
  gelu,
  layerNorm,
  linear,
  multiHeadSelfAttention,
  scaledSoftmax,
  vitEncoder,
} from 'supcon';
import { SupconAttention, SupconLinearGrad } from 'supcon/kernels';
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

// Attention's logits [B, H, T, T] (vit-tiny's T = 50, a tail past the vector width) and odd rows;
// logits up to ±30 so an unsubtracted maximum would overflow exp at scale 4.
for (const [shape, scale, spread] of [
  [[2, 3, 50, 50], 1 / 8, 4],
  [[4, 7], 1, 1],
  [[3, 17], 4, 30],
] as [number[], number, number][]) {
  test(`SupconScaledSoftmax ${shape} scale ${scale} on ±${spread}`, async () => {
    await compareBackends(`scaledSoftmax ${shape}`, () =>
      withGrads([rand(shape, 60, -spread, spread)], (x) => scaledSoftmax(x!, scale)),
    );
  });
}

// `linear` and `multiHeadSelfAttention` have hand-written gradients (tf.customGrad) on every
// backend; on cpu these run tfjs's autodiff of the plain composition instead, so the comparison
// checks the hand-written gradients too.
const onCpu = () => tf.getBackend() === 'cpu';
function referenceLinear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, r?: tf.Tensor): tf.Tensor {
  const y = tf.add(tf.matMul(tf.reshape(x, [-1, w.shape[0]!]), w as tf.Tensor2D), b); // [rows, out]
  const shaped = tf.reshape(y, [...x.shape.slice(0, -1), w.shape[1]!]); // [..., out]
  return r ? tf.add(shaped, r) : shaped;
}
function referenceAttention(
  x: tf.Tensor,
  wq: tf.Tensor,
  bq: tf.Tensor,
  wo: tf.Tensor,
  bo: tf.Tensor,
  heads: number,
) {
  const [b, t, dim] = x.shape as [number, number, number];
  const d = dim / heads;
  const qkv = referenceLinear(x, wq, bq); // [B, T, 3D]
  const split = tf.transpose(tf.reshape(qkv, [b, t, 3, heads, d]), [2, 0, 3, 1, 4]); // [3, B, H, T, d]
  const [q, k, v] = tf.unstack(split); // each [B, H, T, d]
  const p = tf.softmax(tf.mul(tf.matMul(q!, k!, false, true), 1 / Math.sqrt(d))); // [B, H, T, T]
  const merged = tf.reshape(tf.transpose(tf.matMul(p, v!), [0, 2, 1, 3]), [b, t, dim]); // [B, T, D]
  return tf.add(referenceLinear(merged, wo, bo), x); // [B, T, D]
}

// On native the gradient is one SupconLinearGrad kernel: 150 rows; 1,200 rows (the bias sum in
// blocks of 256 rows) over 200 columns (split between threads); 700 rows of 3 columns (one thread).
for (const [xShape, out, withResidual] of [
  [[3, 50, 24], 40, false],
  [[3, 50, 24], 40, true],
  [[4, 300, 24], 200, false],
  [[700, 5], 3, true],
] as [number[], number, boolean][]) {
  const name = `linear [${xShape}] → ${out}${withResidual ? ' + residual' : ''}`;
  test(`${name}: value and every gradient`, async () => {
    await compareBackends('linear', () => {
      const inDim = xShape[xShape.length - 1]!;
      const inputs = [rand(xShape, 61), rand([inDim, out], 62), rand([out], 63)];
      if (withResidual) inputs.push(rand([...xShape.slice(0, -1), out], 64));
      const op = onCpu() ? referenceLinear : linear;
      return withGrads(inputs, (x, w, b, r) => op(x!, w!, b!, r));
    });
  });
}

test('SupconLinearGrad refuses mismatched shapes, naming them', async () => {
  assert.ok(await tf.setBackend('native'));
  const [dy, x, w] = [tf.zeros([6, 4]), tf.zeros([5, 3]), tf.zeros([3, 4])];
  assert.throws(
    () => tf.engine().runKernel(SupconLinearGrad, { dy, x, w }, {}),
    /SupconLinearGrad: expected dy \[\.\.\., N\], x \[\.\.\., K\] with as many rows and w \[K, N\], received dy \[6,4\], x \[5,3\], w \[3,4\]/,
  );
  tf.dispose([dy, x, w]);
});

test('linear refuses a residual with a reduced-precision output', () => {
  const [x, w, b] = [tf.zeros([2, 3]), tf.zeros([3, 4]), tf.zeros([4])];
  assert.throws(
    () => linear(x, w, b, tf.zeros([2, 4]), { reducedOutput: true }),
    /linear: expected no `residual`/,
  );
  tf.dispose([x, w, b]);
});

// On native these run the fused SupconAttention kernel (heads read in place through strides):
// vit-tiny's [B, 50, 192] with 3 heads of 64, vit-mini's 16 tokens with 2 heads of 32, odd sizes.
for (const [b, t, dim, heads] of [
  [2, 50, 24, 3],
  [3, 5, 8, 1],
  [2, 50, 192, 3],
  [4, 16, 64, 2],
  [2, 7, 12, 4],
] as const) {
  test(`multiHeadSelfAttention [${b}, ${t}, ${dim}], ${heads} heads, + residual: value and every gradient`, async () => {
    await compareBackends('attention', () => {
      const inputs = [
        rand([b, t, dim], 65),
        rand([dim, 3 * dim], 66, -0.5, 0.5),
        rand([3 * dim], 67),
        rand([dim, dim], 68),
        rand([dim], 69),
      ];
      return withGrads(inputs, (x, wq, bq, wo, bo) =>
        onCpu()
          ? referenceAttention(x!, wq!, bq!, wo!, bo!, heads)
          : multiHeadSelfAttention(
              x as tf.Tensor3D,
              { qkvKernel: wq!, qkvBias: bq!, projKernel: wo!, projBias: bo! },
              heads,
              x as tf.Tensor3D,
            ),
      );
    });
  });
}

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

// Native Slice, PadV2 and Concat (block copies, kernels/copy.ts) against cpu, values and gradients
// (Slice's gradient is a PadV2, Concat's a SplitV), bit for bit: the ViT's class-token shapes, a
// region inside every axis, runs shorter and longer than 64 values, a strided 4-D slice.
for (const [shape, begin, size] of [
  [
    [8, 50, 24],
    [0, 0, 0],
    [8, 1, 24],
  ],
  [
    [4, 6, 5],
    [1, 2, 1],
    [2, 3, 3],
  ],
  [
    [3, 4, 70],
    [0, 1, 0],
    [3, 2, 70],
  ],
  [
    [2, 3, 4, 5],
    [1, 0, 2, 1],
    [1, 3, 2, 4],
  ],
  [
    [6, 7],
    [2, 3],
    [3, -1],
  ],
] as [number[], number[], number[]][]) {
  test(`Slice ${shape} from ${begin} size ${size}, and its PadV2 gradient`, async () => {
    await compareBackends(
      `slice ${shape}`,
      () => withGrads([rand(shape, 47)], (x) => tf.slice(x!, begin, size)),
      0,
    );
  });
}

test('PadV2 with a constant, and Concat along each axis with its SplitV gradient', async () => {
  await compareBackends(
    'pad',
    () =>
      withGrads([rand([3, 4, 5], 48)], (x) =>
        tf.pad(
          x!,
          [
            [1, 2],
            [0, 3],
            [2, 0],
          ],
          0.5,
        ),
      ),
    0,
  );
  for (const axis of [0, 1, 2, -1]) {
    await compareBackends(
      `concat axis ${axis}`,
      () =>
        withGrads([rand([2, 3, 4], 49), rand([2, 3, 4], 50), rand([2, 3, 4], 51)], (a, b, c) =>
          tf.concat([a!, b!, c!], axis),
        ),
      0,
    );
  }
  await compareBackends(
    'concat class token',
    () => withGrads([rand([8, 1, 24], 52), rand([8, 49, 24], 53)], (a, b) => tf.concat([a!, b!], 1)),
    0,
  );
});

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

test('on native the ViT ops run the fused kernels (no Erf, no moments, no Softmax) and leak nothing', async () => {
  assert.ok(await tf.setBackend('native'));
  const x = rand([2, 5, 16], 47);
  const gamma = rand([16], 48);
  const beta = rand([16], 49);
  const before = tf.memory().numTensors;
  const info = await tf.profile(() =>
    tf.tidy(() => {
      const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(scaledSoftmax(gelu(layerNorm(a, g, b)), 0.5));
      tf.grads(f)([x, gamma, beta]);
    }),
  );
  const names = info.kernels.map((k) => k.name);
  for (const name of [
    'SupconFusedLayerNorm',
    'SupconFusedLayerNormGrad',
    'SupconFusedGelu',
    'SupconFusedGeluGrad',
    'SupconScaledSoftmax',
    'SupconScaledSoftmaxGrad',
  ])
    assert.ok(names.includes(name), `${name} did not run: ${names.join(', ')}`);
  for (const name of ['Erf', 'Mean', 'SquaredDifference', 'Softmax'])
    assert.ok(!names.includes(name), `${name} ran: ${names.join(', ')}`);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, gamma, beta]);
});

// SupconAutocastMatMul in fp32 against tf.matMul on cpu (differentiated by tfjs): every transpose,
// batched 4-D, a 3-D a against a 2-D b, and a bias; the gradients through the kernel's own GradConfig.
for (const [as, bs, ta, tb] of [
  [[33, 20], [20, 17], false, false],
  [[33, 20], [17, 20], false, true],
  [[20, 33], [20, 17], true, false],
  [[20, 33], [17, 20], true, true],
  [[2, 3, 50, 16], [2, 3, 50, 16], false, true],
  [[2, 3, 50, 50], [2, 3, 50, 16], true, false],
] as [number[], number[], boolean, boolean][]) {
  test(`SupconAutocastMatMul ${as} × ${bs} transposeA=${ta} transposeB=${tb}`, async () => {
    await compareBackends('autocastMatMul', () =>
      withGrads([rand(as, 81), rand(bs, 82)], (a, b) => autocastMatMul(a!, b!, ta, tb)),
    );
  });
}

test('SupconAutocastMatMul with a bias, 3-D a against 2-D b', async () => {
  await compareBackends('autocastMatMul bias', () =>
    withGrads([rand([4, 50, 24], 83), rand([24, 40], 84), rand([40], 85)], (a, b, c) =>
      autocastMatMul(a!, b!, false, false, c),
    ),
  );
});

test('SupconAttention refuses a qkv whose width is not 3 · heads · d, naming the shapes', async () => {
  assert.ok(await tf.setBackend('native'));
  const qkv = tf.zeros([2, 5, 24]);
  assert.throws(
    () => tf.engine().runKernel(SupconAttention, { qkv }, { heads: 5 }),
    /SupconAttention: expected qkv \[B, T, 3D\] with 3D a multiple of 3·heads, received \[2,5,24\] with heads=5/,
  );
  qkv.dispose();
});
