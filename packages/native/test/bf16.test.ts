/**
 * bf16 mixed precision (src/precision.ts): every kernel that takes or produces bf16 storage
 * against its fp32 twin on the native backend, values and gradients. bf16 keeps 8 bits of
 * mantissa (relative rounding error up to 2^-9 ≈ 0.2 % per value). The tolerance is a relative
 * L2 error, ‖bf16 − fp32‖ / ‖fp32‖ ≤ 1e-2 per output: a max-abs measure would fail on the rare
 * element whose pre-activation sits so close to 0 that rounding flips its ReLU mask, which
 * changes that one gradient element by O(1) in any bf16 implementation (PyTorch's included).
 * Inputs are rounded to bf16 values first, so the fp32 twin sees the same numbers and a single
 * kernel's mask never flips. Chains of kernels round their intermediates, so masks do flip there:
 * the residual-block test is held to 8e-2, the order of what PyTorch's own bf16 autocast gives on
 * the same block (reference/bf16_block.py prints it). Skipped, with the reason, on a CPU where oneDNN has no bf16 convolutions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { autocastMatMul, gelu, layerNorm, linear, multiHeadSelfAttention } from 'supcon';
import { SupconAttention, SupconBatchNorm, SupconLinearGrad } from 'supcon/kernels';
import { bf16Supported, bf16UnsupportedReason, getPrecision, setPrecision } from '../src/index.js';
import { rand, relativeError, requireNative, runOn, withGrads } from './harness.js';

/** ‖a − b‖₂ / ‖b‖₂. */
function relativeL2(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'output sizes differ');
  let num = 0;
  let den = 1e-30;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

const BF16_TOLERANCE = 1e-2;

before(requireNative);
after(() => setPrecision('fp32'));

const skip = bf16Supported() ? false : `bf16 is not available here: ${bf16UnsupportedReason()}`;

/** Runs `program` on native in fp32 and in bf16 and compares every output. */
async function compareBf16(
  name: string,
  program: () => tf.Tensor[],
  tolerance = BF16_TOLERANCE,
  fp32Outputs: number[] = [],
): Promise<void> {
  setPrecision('fp32');
  const expected = await runOn('native', program);
  setPrecision('bf16');
  try {
    const actual = await runOn('native', program);
    assert.equal(actual.length, expected.length);
    for (let i = 0; i < expected.length; i++) {
      const err = relativeL2(actual[i]!, expected[i]!);
      assert.ok(
        err <= tolerance,
        `${name}: output ${i} differs from fp32 by relative L2 error ${err} > ${tolerance}`,
      );
      // Not bit-equal to fp32: bf16 really ran (a silent fp32 path would pass the tolerance too).
      if (expected[i]!.length > 16 && !fp32Outputs.includes(i)) {
        assert.ok(err > 0, `${name}: output ${i} is bit-equal to fp32`);
      }
    }
  } finally {
    setPrecision('fp32');
  }
}

/** `rand` rounded to bf16 values (exactly representable in both precisions). */
function rand16(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const v = rand(shape, seed, lo, hi).dataSync() as Float32Array;
  const u = new Uint32Array(v.buffer.slice(0));
  for (let i = 0; i < u.length; i++) u[i] = (u[i]! + 0x7fff + ((u[i]! >>> 16) & 1)) & 0xffff0000;
  return tf.tensor(new Float32Array(u.buffer), shape);
}

function storageOf(t: tf.Tensor): unknown {
  return (tf.backend() as MathBackendCPU).data.get(t.dataId)?.values;
}

function batchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, relu: boolean, r?: tf.Tensor): tf.Tensor {
  const inputs: tf.NamedTensorMap = { x, scale: gamma, offset: beta };
  if (r) inputs['residual'] = r;
  const outs = tf
    .engine()
    .runKernel(SupconBatchNorm, inputs, { epsilon: 1e-5, relu, residual: r !== undefined });
  return (outs as unknown as tf.Tensor[])[0]!;
}

describe('bf16 kernels against fp32', { skip }, () => {
  const convCases: [number[], number, number, number, 'same' | 'valid'][] = [
    [[2, 8, 8, 3], 3, 16, 1, 'same'], // the stem: fp32 images narrowed inside the kernel
    [[2, 8, 8, 32], 3, 32, 1, 'same'],
    [[2, 9, 9, 32], 3, 64, 2, 'same'],
    [[2, 8, 8, 32], 1, 64, 2, 'valid'],
    [[2, 4, 4, 256], 3, 32, 1, 'same'], // patch rows ≥ 2048: im2col weight gradient
    [[2, 6, 6, 256], 3, 16, 2, 'same'],
    [[2, 5, 5, 16], 1, 32, 1, 'valid'], // 1x1 stride 1: the patches are the input itself
    [[2, 7, 7, 16], 3, 16, 1, 'valid'], // no padding: whole window rows copied at once
  ];
  for (const [xs, k, cout, stride, pad] of convCases) {
    test(`conv2d x ${xs} k ${k} out ${cout} stride ${stride} ${pad}, with gradients`, async () => {
      // A stem's weight gradient (3 input channels) is computed in fp32 on purpose (conv.cc).
      const fp32Outputs = xs[3]! * k * k < 32 ? [2] : [];
      await compareBf16(
        'conv2d',
        () =>
          withGrads([rand16(xs, 1), rand16([k, k, xs[3]!, cout], 2, -0.3, 0.3)], (x, w) =>
            tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad),
          ),
        BF16_TOLERANCE,
        fp32Outputs,
      );
    });
  }

  test('fused conv2d with bias and relu', async () => {
    await compareBf16('fused conv2d', () => [
      tf.fused.conv2d({
        x: rand16([2, 8, 8, 16], 3) as tf.Tensor4D,
        filter: rand16([3, 3, 16, 24], 4, -0.3, 0.3) as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: rand16([24], 5),
        activation: 'relu',
      }),
    ]);
  });

  for (const relu of [false, true]) {
    for (const residual of [false, true]) {
      test(`SupconBatchNorm relu=${relu} residual=${residual}, with gradients`, async () => {
        await compareBf16('batch norm', () => {
          const shape = [8, 6, 6, 32];
          const inputs = [rand16(shape, 21, -2, 3), rand16([32], 22, 0.5, 1.5), rand16([32], 23)];
          if (residual) inputs.push(rand16(shape, 24));
          return withGrads(inputs, (x, g, b, r) => batchNorm(x!, g!, b!, relu, r));
        });
      });
    }
  }

  test('a residual block (conv → BN+ReLU → conv → BN + shortcut + ReLU), forward and backward', async () => {
    await compareBf16(
      'block',
      () => {
        const x = rand16([4, 8, 8, 16], 31);
        const w1 = rand16([3, 3, 16, 16], 32, -0.3, 0.3);
        const w2 = rand16([3, 3, 16, 16], 33, -0.3, 0.3);
        const g = rand16([16], 34, 0.5, 1.5);
        const b = rand16([16], 35);
        return withGrads([x, w1, w2, g, b], (x0, k1, k2, gamma, beta) => {
          const h = batchNorm(
            tf.conv2d(x0 as tf.Tensor4D, k1 as tf.Tensor4D, 1, 'same'),
            gamma!,
            beta!,
            true,
          );
          return batchNorm(
            tf.conv2d(h as tf.Tensor4D, k2 as tf.Tensor4D, 1, 'same'),
            gamma!,
            beta!,
            true,
            x0,
          );
        });
      },
      8e-2,
    );
  });
});

describe('bf16 matrix products of the encoder (SupconAutocastMatMul)', { skip }, () => {
  // fp32 inputs (not bf16-exact): the kernel narrows them, so bf16 really differs from fp32.
  const cases: [string, number[], number[], boolean, boolean][] = [
    ['2-D', [40, 24], [24, 36], false, false],
    ['2-D, b transposed', [40, 24], [36, 24], false, true],
    ['2-D, a transposed (a weight gradient)', [300, 24], [300, 36], true, false],
    ['4-D attention logits q kᵀ', [2, 3, 50, 16], [2, 3, 50, 16], false, true],
    ['4-D, both transposed', [2, 3, 16, 50], [2, 3, 20, 16], true, true],
  ];
  for (const [name, as, bs, ta, tb] of cases) {
    test(`${name}, with gradients`, async () => {
      await compareBf16(`autocast matmul ${name}`, () =>
        withGrads([rand(as, 61), rand(bs, 62)], (a, b) => autocastMatMul(a!, b!, ta, tb)),
      );
    });
  }

  test('with a bias, a 3-D a against a 2-D b', async () => {
    await compareBf16(
      'autocast matmul bias',
      () =>
        withGrads([rand([4, 50, 24], 63), rand([24, 40], 64), rand([40], 65)], (a, b, c) =>
          autocastMatMul(a!, b!, false, false, c),
        ),
      BF16_TOLERANCE,
      [3], // the bias gradient sums fp32 gradients: no product
    );
  });

  test('the output is fp32 storage; the loss products (tf.matMul) stay fp32 in bf16 mode', async () => {
    assert.ok(await tf.setBackend('native'));
    setPrecision('bf16');
    try {
      tf.tidy(() => {
        const a = rand([64, 32], 66);
        const b = rand([32, 48], 67);
        const y = autocastMatMul(a, b);
        assert.ok(storageOf(y) instanceof Float32Array, 'autocast output is not fp32 storage');
        const plain = tf.matMul(a, b).dataSync();
        setPrecision('fp32');
        const ref = tf.matMul(a, b).dataSync();
        assert.deepEqual(plain, ref, 'tf.matMul changed with the precision');
        assert.ok(relativeL2(y.dataSync() as Float32Array, ref as Float32Array) > 0, 'bf16 did not run');
      });
    } finally {
      setPrecision('fp32');
    }
  });

  test('LayerNorm, GELU and attention write bf16 activations, which the linear layers take as they are', async () => {
    assert.ok(await tf.setBackend('native'));
    setPrecision('bf16');
    try {
      tf.tidy(() => {
        const x = rand([2, 5, 24], 91);
        const ln = layerNorm(x, tf.ones([24]), tf.zeros([24]));
        assert.ok(storageOf(ln) instanceof Uint16Array, 'LayerNorm output is not bf16 storage');
        const h = gelu(rand([2, 5, 24], 92));
        assert.ok(storageOf(h) instanceof Uint16Array, 'GELU output is not bf16 storage');
        const [o, p] = tf
          .engine()
          .runKernel(SupconAttention, { qkv: rand([2, 5, 72], 93) }, { heads: 3 }) as unknown as tf.Tensor[];
        assert.ok(storageOf(o!) instanceof Uint16Array, 'attention output is not bf16 storage');
        assert.ok(storageOf(p!) instanceof Float32Array, 'attention weights are not fp32 storage');
        const y = autocastMatMul(ln, rand([24, 8], 94));
        assert.ok(storageOf(ln) instanceof Uint16Array, 'the linear layer widened its bf16 input');
        assert.ok(storageOf(y) instanceof Float32Array, 'the linear layer output is not fp32');
      });
    } finally {
      setPrecision('fp32');
    }
  });

  test('the q/k/v and first MLP layers keep bf16 outputs, and GELU, attention and their gradients take them', async () => {
    assert.ok(await tf.setBackend('native'));
    setPrecision('bf16');
    try {
      tf.tidy(() => {
        const y = autocastMatMul(rand([40, 24], 95), rand([24, 72], 96), false, false, rand([72], 97), {
          reducedOutput: true,
        });
        assert.ok(storageOf(y) instanceof Uint16Array, 'a reducedOutput product is not bf16 storage');
        const qkv = tf.reshape(y, [2, 20, 72]);
        const [o] = tf.engine().runKernel(SupconAttention, { qkv }, { heads: 3 }) as unknown as tf.Tensor[];
        assert.ok(storageOf(o!) instanceof Uint16Array, 'attention output is not bf16 storage');
        assert.ok(storageOf(qkv) instanceof Uint16Array, 'attention widened its bf16 qkv');
        const h = gelu(y);
        assert.ok(storageOf(y) instanceof Uint16Array, 'GELU widened its bf16 input');
        assert.ok(storageOf(h) instanceof Uint16Array, 'GELU output is not bf16 storage');
        const dh = tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(y);
        assert.ok(storageOf(dh) instanceof Uint16Array, "GELU's input gradient is not bf16 storage");
        const dqkv = tf.grad((t: tf.Tensor) => {
          const [out] = tf
            .engine()
            .runKernel(SupconAttention, { qkv: t }, { heads: 3 }) as unknown as tf.Tensor[];
          return tf.sum(out!);
        })(qkv);
        assert.ok(storageOf(dqkv) instanceof Uint16Array, "attention's input gradient is not bf16 storage");
        const [dx, dw, db] = tf
          .engine()
          .runKernel(
            SupconLinearGrad,
            { dy: dh, x: rand([40, 16], 98), w: rand([16, 72], 99) },
            { reducedDx: true },
          ) as unknown as tf.Tensor[];
        assert.ok(storageOf(dx!) instanceof Uint16Array, 'a reducedDx linear gradient is not bf16 storage');
        assert.ok(
          storageOf(dw!) instanceof Float32Array && storageOf(db!) instanceof Float32Array,
          'dW or db not fp32',
        );
      });
      // fp32 mode: the same flags leave every output fp32.
      setPrecision('fp32');
      tf.tidy(() => {
        const y = autocastMatMul(rand([40, 24], 95), rand([24, 72], 96), false, false, undefined, {
          reducedOutput: true,
        });
        assert.ok(storageOf(y) instanceof Float32Array, 'a reducedOutput product is bf16 in fp32 mode');
      });
    } finally {
      setPrecision('fp32');
    }
  });

  // dy, x and the outputs in every storage the engine hands the kernel in bf16 mode, against fp32.
  for (const [name, dy16, x16, dx16] of [
    ['fp32 dy and x', false, false, false],
    ['bf16 dy (a GELU or attention gradient) and bf16 x', true, true, false],
    ['bf16 dx (reducedDx)', false, true, true],
  ] as const) {
    test(`SupconLinearGrad with ${name}`, async () => {
      await compareBf16(
        `linear grad ${name}`,
        () =>
          tf.tidy(() => {
            // bf16 storage of the inputs, as the kernels before the linear layer would leave it.
            const stored = (t: tf.Tensor, bf16: boolean) =>
              bf16
                ? autocastMatMul(t, tf.eye(t.shape[1]!), false, false, undefined, { reducedOutput: true })
                : t;
            const dy = stored(rand([600, 40], 100), dy16 && getPrecision() === 'bf16');
            const x = stored(rand([600, 24], 101), x16 && getPrecision() === 'bf16');
            const w = rand([24, 40], 102);
            const attrs = dx16 ? { reducedDx: true } : {};
            return tf.engine().runKernel(SupconLinearGrad, { dy, x, w }, attrs) as unknown as tf.Tensor[];
          }),
        BF16_TOLERANCE,
        dy16 ? [] : [2], // db sums dy as stored: fp32 dy gives fp32's exact sum
      );
    });
  }

  test('a ViT block: linear layers and multi-head attention, forward and backward', async () => {
    await compareBf16(
      'vit block',
      () => {
        const x = rand([2, 17, 24], 71);
        const p = {
          qkvKernel: rand([24, 72], 72, -0.3, 0.3),
          qkvBias: rand([72], 73, -0.1, 0.1),
          projKernel: rand([24, 24], 74, -0.3, 0.3),
          projBias: rand([24], 75, -0.1, 0.1),
        };
        const w = rand([24, 24], 76, -0.3, 0.3);
        const c = rand([24], 77, -0.1, 0.1);
        return withGrads(
          [x, p.qkvKernel, p.qkvBias, p.projKernel, p.projBias, w, c],
          (x0, qk, qb, pk, pb, w0, c0) => {
            const h = multiHeadSelfAttention(
              x0 as tf.Tensor3D,
              { qkvKernel: qk!, qkvBias: qb!, projKernel: pk!, projBias: pb! },
              3,
              x0 as tf.Tensor3D,
            );
            return linear(h, w0!, c0!, h);
          },
        );
      },
      BF16_TOLERANCE,
      [7], // the last bias's gradient sums r itself: no product
    );
  });
});

describe('bf16 storage', { skip }, () => {
  test('activations stay bf16 from conv through batch norm; JavaScript reads exact floats', async () => {
    assert.ok(await tf.setBackend('native'));
    setPrecision('bf16');
    try {
      tf.tidy(() => {
        const x = rand([2, 6, 6, 8], 41);
        const y = tf.conv2d(x as tf.Tensor4D, rand([3, 3, 8, 8], 42) as tf.Tensor4D, 1, 'same');
        assert.ok(storageOf(y) instanceof Uint16Array, 'conv output is not bf16 storage');
        const z = batchNorm(y, tf.ones([8]), tf.zeros([8]), true);
        assert.ok(storageOf(z) instanceof Uint16Array, 'batch norm output is not bf16 storage');
        const sum = tf.add(z, z);
        assert.ok(storageOf(sum) instanceof Uint16Array, 'bf16 + bf16 is not bf16 storage');
        const bits = Uint16Array.from(storageOf(z) as Uint16Array);
        const read = z.dataSync();
        assert.ok(read instanceof Float32Array);
        for (let i = 0; i < bits.length; i++) {
          const f = new Float32Array(new Uint32Array([bits[i]! << 16]).buffer)[0]!;
          assert.equal(read[i], f, `element ${i}: widening is not exact`);
        }
        assert.ok(storageOf(z) instanceof Float32Array, 'after a read the storage is fp32');
        // A cpu-only kernel on bf16 storage sees the widened floats.
        const y2 = tf.conv2d(x as tf.Tensor4D, rand([3, 3, 8, 8], 42) as tf.Tensor4D, 1, 'same');
        const expected = Float32Array.from(tf.clone(y2).dataSync());
        const y3 = tf.conv2d(x as tf.Tensor4D, rand([3, 3, 8, 8], 42) as tf.Tensor4D, 1, 'same');
        const cum = tf.cumsum(y3, 3).dataSync();
        const ref = tf.cumsum(tf.tensor(expected, y3.shape), 3).dataSync();
        assert.ok(relativeError(Float32Array.from(cum), Float32Array.from(ref)) < 1e-6);
      });
    } finally {
      setPrecision('fp32');
    }
  });

  test('fp32 mode leaves every output fp32', async () => {
    assert.ok(await tf.setBackend('native'));
    assert.equal(getPrecision(), 'fp32');
    tf.tidy(() => {
      const y = tf.conv2d(
        rand([1, 4, 4, 2], 1) as tf.Tensor4D,
        rand([3, 3, 2, 2], 2) as tf.Tensor4D,
        1,
        'same',
      );
      assert.ok(storageOf(y) instanceof Float32Array);
    });
  });
});

test('setPrecision refuses unknown values and keeps fp32 where bf16 is missing', () => {
  assert.throws(
    () => setPrecision('fp16' as 'fp32'),
    /Invalid value for argument `precision`.*Received: precision=fp16/,
  );
  // oneDNN's ISA cap stands in for a CPU without bf16.
  const script =
    "import('./src/index.js').then((m) => console.log(JSON.stringify([m.bf16Supported(), m.setPrecision('bf16'), m.bf16UnsupportedReason()])))";
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('../', import.meta.url).pathname,
    env: { ...process.env, ONEDNN_MAX_CPU_ISA: 'AVX2' },
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  const [supported, effective, reason] = JSON.parse(out.stdout.trim()) as [boolean, string, string];
  assert.equal(supported, false);
  assert.equal(effective, 'fp32');
  assert.match(reason, /avx512_bf16/);
});
