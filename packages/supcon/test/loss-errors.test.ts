/** Every invalid input gets one sentence naming the argument, the expectation and the value. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, type SupConOptions, supConLoss } from 'supcon';
import { randomFeatures } from './helpers.js';

// Bad tensors are built before counting, so the count shows what a rejected call leaves behind.
const badFeatures = {
  rank2: tf.zeros([4, 3]),
  nan: tf.tensor3d([[[Number.NaN, 0]], [[1, 0]]]),
  inf: tf.tensor3d([[[Number.POSITIVE_INFINITY, 0]], [[1, 0]]]),
  column: tf.tensor2d([[0], [1], [0], [1]]),
};

function expectError(run: () => unknown, pattern: RegExp): void {
  const before = tf.memory().numTensors;
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(e)}`);
    assert.match(e.message, pattern);
    assert.match(e.message, /^Invalid value for argument `\w+`\. Expected .+\. Received: .+\.$/s);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind by a rejected call');
}

describe('input validation', () => {
  const f = randomFeatures(1, 4, 2, 3);
  const labels = [0, 1, 0, 1];
  const cases: Array<[string, () => unknown, RegExp]> = [
    [
      'rank below 3',
      () => supConLoss(badFeatures.rank2, labels),
      /argument `features`.*rank >= 3.*shape \[4, 3\]/,
    ],
    [
      'not a tensor',
      () => supConLoss([[1]] as unknown as tf.Tensor),
      /argument `features`.*tf\.Tensor.*Received: features=\[/,
    ],
    [
      'labels length mismatch',
      () => supConLoss(f, [0, 1, 2]),
      /argument `labels`.*4 integer labels.*Received: labels=\[0, 1, 2\]/,
    ],
    [
      'labels and mask',
      () => supConLoss(f, labels, { mask: [[1]] }),
      /argument `mask`.*either labels or a mask/,
    ],
    [
      'mask shape',
      () =>
        supConLoss(f, undefined, {
          mask: [
            [1, 0],
            [0, 1],
          ],
        }),
      /argument `mask`.*shape \[4, 4\].*Received: mask=\[\[1, 0\], \[0, 1\]\]/,
    ],
    [
      'negative mask weight',
      () =>
        supConLoss(f, undefined, {
          mask: [
            [1, 0, 0, -1],
            [0, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 0, 0, 1],
          ],
        }),
      /mask.*>= 0.*value -1 at flat index 3/,
    ],
    [
      'unknown contrast mode',
      () => supConLoss(f, labels, { contrastMode: 'both' } as unknown as SupConOptions),
      /`contrastMode`.*'all', 'one'.*contrastMode="both"/,
    ],
    [
      'unknown variant',
      () => supConLoss(f, labels, { variant: 'middle' } as unknown as SupConOptions),
      /`variant`.*'out', 'in'.*"middle"/,
    ],
    [
      'unknown denominator',
      () => supConLoss(f, labels, { denominator: 'ALL' } as unknown as SupConOptions),
      /`denominator`.*'all', 'one-positive', 'only-negatives'.*"ALL"/,
    ],
    [
      'unknown reduction',
      () => supConLoss(f, labels, { reduction: 'avg' } as unknown as SupConOptions),
      /`reduction`.*'mean', 'pair-mean', 'sum', 'none'.*reduction="avg"/,
    ],
    [
      'unknown zero-negative policy',
      () => supConLoss(f, labels, { zeroNegatives: 'zero' } as unknown as SupConOptions),
      /`zeroNegatives`.*'include', 'exclude'.*zeroNegatives="zero"/,
    ],
    [
      'unknown zero-positive policy',
      () => supConLoss(f, labels, { zeroPositives: 'drop' } as unknown as SupConOptions),
      /`zeroPositives`.*"drop"/,
    ],
    [
      'misspelt option',
      () => supConLoss(f, labels, { temprature: 0.1 } as unknown as SupConOptions),
      /`options`.*temperature.*Received: options="temprature"/,
    ],
    [
      'temperature 0',
      () => supConLoss(f, labels, { temperature: 0 }),
      /`temperature`.*finite number > 0.*temperature=0/,
    ],
    ['negative temperature', () => supConLoss(f, labels, { temperature: -1 }), /temperature=-1/],
    [
      'NaN base temperature',
      () => supConLoss(f, labels, { baseTemperature: Number.NaN }),
      /`baseTemperature`.*baseTemperature=NaN/,
    ],
    [
      'positives cap not a multiple of views',
      () => supConLoss(f, labels, { positivesCap: 3 }),
      /`positivesCap`.*multiple of the number of views \(2\).*positivesCap=3/,
    ],
    [
      'positives cap below -1',
      () => supConLoss(f, labels, { positivesCap: -2 }),
      /`positivesCap`.*positivesCap=-2/,
    ],
    [
      'non-integer labels',
      () => supConLoss(f, [0, 1.5, 0, 1]),
      /`labels`.*integers >= 0.*value 1.5 at flat index 1/,
    ],
    ['negative labels', () => supConLoss(f, [0, 1, -1, 1]), /`labels`.*value -1 at flat index 2/],
    [
      'ambiguous [batch, 1] labels',
      () => supConLoss(f, badFeatures.column),
      /`labels`.*ambiguous.*shape \[4, 1\]/,
    ],
    ['NaN feature', () => supConLoss(badFeatures.nan, [0, 0]), /`features`.*finite values/],
    ['infinite feature', () => supConLoss(badFeatures.inf, [0, 0]), /`features`.*finite/],
    ['block rows 0', () => supConLoss(f, labels, { blockRows: 0 }), /`blockRows`.*integer > 0.*blockRows=0/],
  ];
  for (const [name, run, pattern] of cases) it(name, () => expectError(run, pattern));
});
