/**
 * The addon checks every array argument's length against what its shape arguments imply and
 * throws a TypeError naming the argument (common.h CheckLength), instead of reading or writing
 * past the end of a buffer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requireAddon } from '../src/addon.js';

const f = (n: number) => new Float32Array(n);

test('batch norm refuses arrays whose length does not match C or x', () => {
  const addon = requireAddon();
  const C = 4;
  const ok = () => addon.batchNormTrain(f(8 * C), C, f(C), f(C), null, 1e-5, false, f(8 * C), f(C), f(C));
  ok();
  assert.throws(
    () => addon.batchNormTrain(f(8 * C), C, f(C - 1), f(C), null, 1e-5, false, f(8 * C), f(C), f(C)),
    { name: 'TypeError', message: 'batchNormTrain gamma: expected 4 elements, received 3' },
  );
  assert.throws(
    () => addon.batchNormTrain(f(8 * C), C, f(C), f(C), null, 1e-5, false, f(4 * C), f(C), f(C)),
    { name: 'TypeError', message: 'batchNormTrain y: expected 32 elements, received 16' },
  );
  assert.throws(
    () => addon.batchNormTrain(f(8 * C + 1), C, f(C), f(C), null, 1e-5, false, f(8 * C + 1), f(C), f(C)),
    { name: 'TypeError', message: /x has 33 elements, not a positive multiple of C = 4/ },
  );
  assert.throws(
    () =>
      addon.batchNormGrad(
        f(8 * C),
        f(8 * C),
        null,
        C,
        f(C),
        f(C),
        f(C),
        1e-5,
        f(8 * C),
        f(C),
        f(C + 2),
        null,
      ),
    { name: 'TypeError', message: 'batchNormGrad dbeta: expected 4 elements, received 6' },
  );
  assert.throws(
    () =>
      addon.batchNormGrad(f(8 * C), f(7 * C), null, C, f(C), f(C), f(C), 1e-5, f(8 * C), f(C), f(C), null),
    { name: 'TypeError', message: 'batchNormGrad x: expected 32 elements, received 28' },
  );
});

test('the loss row kernel refuses a gradient buffer of the wrong length', () => {
  const addon = requireAddon();
  const [rows, batch, views] = [2, 3, 2];
  const n = batch * views;
  const args = (grad: Float32Array) =>
    addon.supconRows(
      f(rows * n),
      f(rows * batch),
      f(rows * batch),
      0,
      rows,
      batch,
      views,
      0,
      0,
      f(rows),
      f(rows),
      grad,
    );
  args(f(rows * n));
  assert.throws(() => args(f(rows * n - 1)), {
    name: 'TypeError',
    message: 'supconRows grad: expected 12 elements, received 11',
  });
  assert.throws(
    () =>
      addon.supconRows(
        f(rows * n),
        f(rows * batch),
        f(rows * batch),
        0,
        rows,
        batch,
        views,
        2,
        0,
        f(rows),
        f(rows),
        null,
      ),
    { name: 'TypeError', message: /variant 0\|1/ },
  );
});
