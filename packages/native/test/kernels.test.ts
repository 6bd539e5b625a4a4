/** The kernel suite: every native kernel against the cpu backend on many shapes, gradients included. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadAddon } from '../src/index.js';
import { compareBackends, rand, requireNative, withGrads } from './harness.js';

before(requireNative);

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
const convCases: [number[], number, number, number, Pad, number][] = [
  // [x shape NHWC, kernel size, out channels, stride, padding, dilation]
  [[2, 8, 8, 3], 3, 4, 1, 'same', 1],
  [[2, 9, 9, 5], 3, 6, 2, 'same', 1],
  [[2, 8, 8, 5], 3, 6, 2, 'same', 1],
  [[1, 7, 7, 4], 1, 8, 2, 'valid', 1],
  [[1, 6, 6, 16], 1, 16, 1, 'same', 1],
  [[2, 10, 10, 3], 5, 2, 1, 'valid', 1],
  [[1, 8, 8, 3], 3, 4, 1, 'same', 2],
  [[1, 9, 9, 2], 3, 3, 1, 'valid', 2],
  [
    [2, 6, 6, 4],
    3,
    3,
    1,
    [
      [0, 0],
      [1, 2],
      [2, 1],
      [0, 0],
    ],
    1,
  ],
  [[1, 11, 11, 2], 4, 3, 3, 'valid', 1],
  [[1, 12, 12, 3], 4, 5, 2, 'same', 1],
  [[4, 8, 8, 32], 3, 64, 2, 'same', 1],
  // 3×3 stride 1 on 16-multiple channels of at least 64: Winograd in fp32 (conv.cc), with and
  // without padding; narrower ones run direct.
  [[2, 8, 8, 64], 3, 64, 1, 'same', 1],
  [[2, 9, 9, 64], 3, 80, 1, 'valid', 1],
  [[2, 8, 8, 32], 3, 32, 1, 'same', 1],
  [[1, 4, 4, 64], 3, 16, 1, 'same', 1],
  // Patch rows of 3·3·512 ≥ 4096: the weight gradient goes through the im2col product (conv.cc).
  [[2, 4, 4, 512], 3, 8, 1, 'same', 1],
  [[2, 6, 6, 512], 3, 4, 2, 'same', 1],
  [
    [1, 5, 5, 512],
    3,
    4,
    1,
    [
      [0, 0],
      [1, 2],
      [2, 1],
      [0, 0],
    ],
    1,
  ],
];

describe('conv2d', () => {
  for (const [xs, k, cout, stride, pad, dil] of convCases) {
    test(`x ${xs} k ${k} out ${cout} stride ${stride} pad ${JSON.stringify(pad)} dilation ${dil}`, async () => {
      await compareBackends('conv2d', () =>
        // tfjs has no gradient for dilated conv with stride > 1, and only value checks for dilation.
        dil > 1
          ? [
              tf.conv2d(
                rand(xs, 1) as tf.Tensor4D,
                rand([k, k, xs[3]!, cout], 2) as tf.Tensor4D,
                stride,
                pad,
                'NHWC',
                dil,
              ),
            ]
          : withGrads([rand(xs, 1), rand([k, k, xs[3]!, cout], 2)], (x, w) =>
              tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad),
            ),
      );
    });
  }
  test('fused conv2d with bias and relu, and with linear activation', async () => {
    for (const activation of ['relu', 'linear'] as const) {
      await compareBackends(`fusedConv2d ${activation}`, () =>
        withGrads([rand([2, 7, 7, 3], 3), rand([3, 3, 3, 5], 4), rand([5], 5)], (x, w, b) =>
          tf.fused.conv2d({
            x: x as tf.Tensor4D,
            filter: w as tf.Tensor4D,
            strides: 2,
            pad: 'same',
            bias: b!,
            activation,
          }),
        ),
      );
    }
  });
});

describe('matMul', () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[3, 4], [4, 5], false, false],
    [[4, 3], [4, 5], true, false],
    [[3, 4], [5, 4], false, true],
    [[4, 3], [5, 4], true, true],
    [[2, 3, 4], [2, 4, 5], false, false],
    [[2, 4, 3], [2, 5, 4], true, true],
    [[2, 3, 3, 4], [2, 3, 4, 2], false, false],
    [[1, 3, 4], [3, 4, 5], false, false],
    [[3, 3, 4], [4, 5], false, false],
    [[64, 512], [512, 128], false, false],
    [[128, 128], [128, 128], false, true],
  ];
  for (const [as, bs, ta, tb] of cases) {
    test(`a ${as}${ta ? 'ᵀ' : ''} × b ${bs}${tb ? 'ᵀ' : ''}`, async () => {
      // tfjs's BatchMatMul gradient does not reduce over a broadcast batch: values only there.
      const broadcast = as.length !== bs.length || as[0] !== bs[0];
      await compareBackends('matMul', () =>
        broadcast
          ? [tf.matMul(rand(as, 6), rand(bs, 7), ta, tb)]
          : withGrads([rand(as, 6), rand(bs, 7)], (a, b) => tf.matMul(a!, b!, ta, tb)),
      );
    });
  }
  test('fused matMul with bias and relu', async () => {
    await compareBackends('fused matMul', () =>
      withGrads([rand([6, 8], 8), rand([8, 5], 9), rand([5], 10)], (a, b, bias) =>
        tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: bias!, activation: 'relu' }),
      ),
    );
  });
});

describe('binary ops with broadcasting', () => {
  const shapes: [number[], number[]][] = [
    [
      [2, 3, 4],
      [2, 3, 4],
    ],
    [[2, 3, 4], [4]],
    [
      [2, 3, 4],
      [3, 1],
    ],
    [
      [2, 1, 4],
      [3, 1],
    ],
    [[4], [2, 3, 4]],
    [[2, 3, 4], []],
    [[], [5]],
    [[8, 4, 4, 16], [16]],
    [
      [8, 4, 4, 16],
      [8, 1, 1, 16],
    ],
    [
      [1, 5],
      [5, 1],
    ],
    [
      [300, 200],
      [300, 200],
    ],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['add', tf.add],
    ['sub', tf.sub],
    ['mul', tf.mul],
    ['div', tf.div],
    ['maximum', tf.maximum],
    ['minimum', tf.minimum],
    ['squaredDifference', tf.squaredDifference],
  ];
  for (const [name, op] of ops) {
    test(name, async () => {
      for (const [as, bs] of shapes) {
        const lo = name === 'div' ? 0.5 : -1;
        // tfjs's gradients of these three do not reduce over broadcast axes: values only there.
        const gradOk = !['maximum', 'minimum', 'squaredDifference'].includes(name) || as.join() === bs.join();
        await compareBackends(`${name} ${as} ${bs}`, () =>
          gradOk
            ? withGrads([rand(as, 11), rand(bs, 12, lo, 2)], op)
            : [op(rand(as, 11), rand(bs, 12, lo, 2))],
        );
      }
    });
  }
  test('pow', async () => {
    await compareBackends('pow', () => [tf.pow(rand([3, 4], 13, 0.1, 2), rand([4], 14, -2, 2))]);
  });
  test('int32 inputs fall back to the cpu kernels', async () => {
    await compareBackends('int add', () => [
      tf.cast(tf.add(tf.tensor([1, 2, 3], [3], 'int32'), tf.scalar(2, 'int32')), 'float32'),
    ]);
  });
});

describe('unary ops', () => {
  const ops: [string, (x: tf.Tensor) => tf.Tensor, number, number][] = [
    ['exp', tf.exp, -3, 3],
    ['log', tf.log, 0.1, 5],
    ['neg', tf.neg, -2, 2],
    ['sqrt', tf.sqrt, 0.1, 4],
    ['rsqrt', tf.rsqrt, 0.1, 4],
    ['square', tf.square, -2, 2],
    ['abs', tf.abs, -2, 2],
    ['relu', tf.relu, -2, 2],
    ['sigmoid', tf.sigmoid, -5, 5],
    ['tanh', tf.tanh, -3, 3],
    ['reciprocal', tf.reciprocal, 0.2, 3],
    ['log1p', tf.log1p, -0.5, 3],
    ['expm1', tf.expm1, -2, 2],
  ];
  for (const [name, op, lo, hi] of ops) {
    test(name, async () => {
      for (const shape of [[7], [3, 50], [40000]]) {
        await compareBackends(`${name} ${shape}`, () => withGrads([rand(shape, 15, lo, hi)], op));
      }
    });
  }
});

describe('reductions', () => {
  const cases: [number[], number | number[] | undefined, boolean][] = [
    [[6], undefined, false],
    [[3, 4], 0, false],
    [[3, 4], 1, true],
    [[2, 3, 4], [0, 2], false],
    [[2, 3, 4], [1], true],
    [[4, 4, 4, 8], [1, 2], false],
    [[4, 4, 4, 8], [0, 1, 2], true],
    [[2, 3, 4, 5], [0, 3], false],
    [[5, 1, 3], [1], false],
    [[100000], 0, false],
  ];
  const ops: [string, (x: tf.Tensor, axis?: number | number[], keepDims?: boolean) => tf.Tensor][] = [
    ['sum', tf.sum],
    ['mean', tf.mean],
    ['max', tf.max],
    ['min', tf.min],
  ];
  for (const [name, op] of ops) {
    test(name, async () => {
      for (const [shape, axis, keep] of cases) {
        await compareBackends(`${name} ${shape} axis ${axis}`, () =>
          withGrads([rand(shape, 16, 0.5, 1.5)], (x) => op(x, axis, keep)),
        );
      }
    });
  }
  test('prod', async () => {
    await compareBackends('prod', () => [tf.prod(rand([3, 5], 17, 0.5, 1.5), 1)]);
  });
  test('softmax and logSoftmax', async () => {
    for (const shape of [[5], [4, 7], [2, 3, 200]]) {
      await compareBackends(`softmax ${shape}`, () =>
        withGrads([rand(shape, 18, -4, 4)], (x) => tf.softmax(x)),
      );
      await compareBackends(`logSoftmax ${shape}`, () =>
        withGrads([rand(shape, 19, -4, 4)], (x) => tf.logSoftmax(x)),
      );
    }
  });
});

test('native kernels really run (the addon is called, not the cpu fallback)', async () => {
  const addon = loadAddon()!;
  const original = addon.conv2d;
  let calls = 0;
  addon.conv2d = (...args) => {
    calls++;
    original(...args);
  };
  try {
    await tf.setBackend('native');
    tf.tidy(() =>
      tf.conv2d(rand([1, 4, 4, 2], 1) as tf.Tensor4D, rand([3, 3, 2, 2], 2) as tf.Tensor4D, 1, 'same'),
    );
  } finally {
    addon.conv2d = original;
  }
  assert.equal(calls, 1);
});

describe('pooling', () => {
  const cases: [number[], number, number, 'same' | 'valid'][] = [
    // [x shape NHWC, window, stride, padding]
    [[2, 8, 8, 3], 2, 2, 'valid'],
    [[1, 7, 7, 4], 3, 2, 'same'],
    [[2, 9, 9, 2], 3, 2, 'valid'],
    [[1, 6, 6, 5], 3, 1, 'same'],
    [[4, 32, 32, 16], 3, 2, 'same'],
  ];
  for (const [shape, window, stride, pad] of cases) {
    test(`max and average pooling x ${shape} window ${window} stride ${stride} ${pad}`, async () => {
      await compareBackends('maxPool', () =>
        withGrads([rand(shape, 41)], (x) => tf.maxPool(x as tf.Tensor4D, window, stride, pad)),
      );
      await compareBackends('avgPool', () =>
        withGrads([rand(shape, 42)], (x) => tf.avgPool(x as tf.Tensor4D, window, stride, pad)),
      );
    });
  }
});

describe('transpose', () => {
  const cases: [number[], number[]][] = [
    [
      [2, 3],
      [1, 0],
    ],
    [
      [2, 256, 16],
      [1, 0, 2],
    ],
    [
      [3, 4, 5, 6],
      [0, 3, 1, 2],
    ],
    [
      [3, 4, 5, 6],
      [3, 2, 1, 0],
    ],
    [
      [2, 1, 5, 1, 3],
      [4, 3, 0, 2, 1],
    ],
    [
      [4, 5, 6],
      [0, 1, 2],
    ],
    [
      [1, 1],
      [1, 0],
    ],
    [[7], [0]],
  ];
  for (const [shape, perm] of cases) {
    test(`x ${shape} perm ${perm}, with gradient`, async () => {
      await compareBackends('transpose', () => withGrads([rand(shape, 7)], (x) => tf.transpose(x, perm)), 0);
    });
  }
  test('int32 falls back to the cpu kernel', async () => {
    await compareBackends('transpose int32', () => [
      tf.cast(tf.transpose(tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'int32'), [2, 0, 1]), 'float32'),
    ]);
  });
});

describe('topk', () => {
  // Values and indices exactly as the cpu kernel's: values descending, ties by ascending index.
  const both = (t: { values: tf.Tensor; indices: tf.Tensor }) => [t.values, tf.cast(t.indices, 'float32')];
  test('random rows, heavy ties, k = n, rank 1 and 3: exactly the cpu kernel', async () => {
    await compareBackends(
      'topk',
      () => [
        ...both(tf.topk(rand([7, 50], 51), 5)),
        ...both(tf.topk(tf.round(tf.mul(rand([4, 30], 52), 2)), 10)), // values in {-2..2}: many ties
        ...both(tf.topk(rand([3, 6], 53), 6)),
        ...both(tf.topk(rand([40], 54), 1)),
        ...both(tf.topk(rand([2, 3, 9], 55), 4)),
        ...both(tf.topk(tf.fill([2, 8], 0.5), 3)), // all equal: the first three indices
      ],
      0,
    );
  });
  test('a row with NaN and sorted = false go to the cpu kernel', async () => {
    await compareBackends(
      'topk nan',
      () => [
        ...both(tf.topk(tf.tensor2d([1, Number.NaN, 3, 2, 0, 5], [2, 3]), 2)),
        ...both(tf.topk(rand([3, 10], 56), 4, false)),
      ],
      0,
    );
  });
});

describe('gather', () => {
  test('rows of float32 tensors along axis 0 (native), other axes and int32 (cpu), with gradients', async () => {
    const idx = tf.tensor1d([3, 0, 3, 7, 1], 'int32');
    const idx2d = tf.tensor2d(
      [
        [1, 2],
        [0, 0],
      ],
      [2, 2],
      'int32',
    );
    await compareBackends('gather axis 0', () => [
      ...withGrads([rand([8, 5], 41)], (x) => tf.gather(x, idx)),
      ...withGrads([rand([8, 3, 4], 42)], (x) => tf.gather(x, idx)),
      tf.gather(rand([8, 3], 43), idx2d), // [2, 2, 3]
      tf.gather(rand([4, 6], 44), idx2d.flatten(), 1), // axis 1: the cpu kernel
      tf.gather(rand([3], 45), tf.tensor1d([2, 2, 0], 'int32')), // rank 1
      tf.gather(rand([0, 4], 46), tf.tensor1d([], 'int32')), // nothing to gather
    ]);
    await compareBackends('gather int32', () => [
      tf.cast(tf.gather(tf.tensor1d([5, 6, 7, 8], 'int32'), tf.tensor1d([3, 1], 'int32')), 'float32'),
    ]);
  });
  test('an index out of range is refused on both backends', async () => {
    for (const backend of ['cpu', 'native']) {
      await tf.setBackend(backend);
      assert.throws(() => tf.gather(rand([4, 2], 47), tf.tensor1d([1, 4], 'int32')).dataSync(), /4/);
    }
  });
});
