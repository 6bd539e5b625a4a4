/**
 * The loss's native per-row kernel (packages/native/src/cc/supcon_rows.cc) against the whole-tensor
 * implementation, values and gradients, for every variant, denominator and way to give positives,
 * and for the options applied around it in TypeScript (zeroNegatives, reduction 'pair-mean').
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { nativeLoadError, registerNativeBackend } from '@supcon/native';
import * as tf from '@tensorflow/tfjs-core';
import { getLossRowKernel, type Labels, type SupConOptions, setLossRowKernel, supConLoss } from 'supcon';

let calls = 0;

before(async () => {
  assert.ok(registerNativeBackend(), `the native addon must load: ${nativeLoadError()}`);
  assert.ok(await tf.setBackend('native'));
  const kernel = getLossRowKernel();
  assert.equal(typeof kernel, 'function', 'the native backend installs the loss row kernel');
  setLossRowKernel((args) => {
    calls++;
    return kernel!(args);
  });
});

function features(seed: number, batch: number, views: number, dim: number): tf.Tensor3D {
  return tf.tidy(() => {
    const f = tf.randomNormal([batch, views, dim], 0, 1, 'float32', seed);
    return tf.div(f, tf.norm(f, 'euclidean', -1, true)) as tf.Tensor3D;
  });
}

const batch = 7;
const mask = Array.from({ length: batch }, (_, a) =>
  Array.from({ length: batch }, (__, s) => (a === s ? (a % 3 ? 1 : 0) : (a * 7 + s * 3) % 5 === 0 ? 1.5 : 0)),
);
const multiHot = Array.from({ length: batch }, (_, a) =>
  Array.from({ length: 40 }, (__, k) => (k === a % 3 || (k === 37 && a % 2 === 0) ? 1 : 0)),
);
const sources: Array<[string, Labels | undefined, SupConOptions]> = [
  ['labels', [0, 1, 0, 2, 1, 1, 2], {}],
  ['labels with cap', [0, 0, 0, 1, 1, 0, 1], { positivesCap: 2 }],
  ['simclr', undefined, {}],
  ['mask', undefined, { mask }],
  ['multi-hot', multiHot, {}],
  ['one class, negatives required', [4, 4, 4, 4, 4, 4, 4], { zeroNegatives: 'exclude' }],
  ['labels, pair mean', [0, 1, 0, 2, 1, 1, 2], { reduction: 'pair-mean' }],
  [
    'mask, pair mean, negatives required',
    undefined,
    { mask, reduction: 'pair-mean', zeroNegatives: 'exclude' },
  ],
];

describe('native loss row kernel equals the tensor implementation', () => {
  for (const [name, labels, extra] of sources) {
    for (const views of name === 'labels with cap' ? [2] : [1, 2]) {
      for (const variant of ['out', 'in'] as const) {
        for (const denominator of ['all', 'one-positive', 'only-negatives'] as const) {
          it(`${name}, V=${views}, ${variant}/${denominator}`, () => {
            const f = features(views * 31 + name.length, batch, views, 6);
            const upstream = tf.randomUniform([batch * views], 0, 1, 'float32', 3);
            const run = (implementation: 'host' | 'tensor') =>
              tf.tidy(() => {
                const opts: SupConOptions = {
                  variant,
                  denominator,
                  temperature: 0.2,
                  blockRows: 4,
                  ...extra,
                  implementation,
                };
                const none = { ...opts, reduction: 'none' as const };
                return [
                  ...supConLoss(f, labels, opts).dataSync(),
                  ...supConLoss(f, labels, none).dataSync(),
                  ...tf
                    .grad((x) => supConLoss(x, labels, opts))(f)
                    .dataSync(),
                  ...tf
                    .grad((x) => tf.sum(tf.mul(supConLoss(x, labels, none), upstream)))(f)
                    .dataSync(),
                ];
              });
            const before = calls;
            const host = run('host');
            assert.ok(calls > before, 'the native kernel ran');
            const tensor = run('tensor');
            assert.equal(host.length, tensor.length);
            for (let i = 0; i < host.length; i++) {
              const ok = Math.abs(host[i]! - tensor[i]!) <= 1e-5 + 1e-4 * Math.abs(tensor[i]!);
              assert.ok(ok, `index ${i}: native ${host[i]} vs tensor ${tensor[i]}`);
            }
            tf.dispose([f, upstream]);
          });
        }
      }
    }
  }
});
