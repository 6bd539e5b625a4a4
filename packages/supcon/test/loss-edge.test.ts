/** Numerical stability, anchors without positives, multi-hot labels, masks, caps, leaks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ntXentLoss, supConLoss, supConLossWithStats } from 'supcon';
import { assertClose, randomFeatures, randomLabels, values } from './helpers.js';

function allFinite(xs: ArrayLike<number>): boolean {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i]!)) return false;
  return true;
}

const everyOption = (['out', 'in'] as const).flatMap((variant) =>
  (['all', 'one-positive', 'only-negatives'] as const).map((denominator) => ({ variant, denominator })),
);

describe('numerical stability: finite loss and gradient', () => {
  const f = randomFeatures(1, 6, 2, 16);
  const labels = [0, 1, 0, 1, 2, 2];
  for (const temperature of [0.01, 0.05, 1, 10]) {
    it(`τ = ${temperature}, every variant and denominator`, () => {
      for (const o of everyOption) {
        const [l, g] = tf.tidy(() => [
          values(supConLoss(f, labels, { ...o, temperature })),
          values(tf.grad((x) => supConLoss(x, labels, { ...o, temperature }))(f)),
        ]);
        assert.ok(
          allFinite(l!) && allFinite(g!),
          `${o.variant}/${o.denominator} at τ=${temperature}: loss ${l}`,
        );
      }
    });
  }
  it('identical features, single-class batch, every option at τ = 0.01', () => {
    const same = tf.tidy(() => tf.div(tf.ones([5, 2, 4]), 2));
    for (const o of everyOption) {
      for (const labelsCase of [
        [0, 0, 0, 0, 0],
        [0, 1, 2, 3, 4],
      ]) {
        const [l, g] = tf.tidy(() => [
          values(supConLoss(same, labelsCase, { ...o, temperature: 0.01 })),
          values(tf.grad((x) => supConLoss(x, labelsCase, { ...o, temperature: 0.01 }))(same)),
        ]);
        assert.ok(allFinite(l!) && allFinite(g!), `${o.variant}/${o.denominator} labels ${labelsCase}`);
      }
    }
    same.dispose();
  });
  it('well separated classes at τ = 0.01: only-negatives does not underflow to Infinity', () => {
    // Positives identical, negatives opposite: exp((s_neg − s_pos)/τ) = exp(−200) underflows in float32.
    const z = tf.tensor3d([[[1, 0]], [[1, 0]], [[-1, 0]], [[-1, 0]]]);
    const l = values(supConLoss(z, [0, 0, 1, 1], { temperature: 0.01, denominator: 'only-negatives' }));
    // log(Σ_neg exp(s_n)) − s_p = (−1 − 1)/0.01 + log 2 exactly
    assertClose(l, [-200 + Math.log(2)], 1e-5, 1e-4, 'only-negatives');
    z.dispose();
  });
  it('a single-class batch with only-negatives has no valid anchor: loss 0, not NaN', () => {
    const f2 = randomFeatures(2, 4, 2, 3);
    const s = supConLossWithStats(f2, [1, 1, 1, 1], { denominator: 'only-negatives' });
    assert.equal(values(s.loss)[0], 0);
    assert.equal(s.validAnchors, 0);
    s.loss.dispose();
    f2.dispose();
  });
  it('16,384 rows stay finite (blocked, L2-normalised features)', () => {
    const big = randomFeatures(9, 8192, 2, 16);
    const labels = randomLabels(9, 8192, 10);
    const l = tf.tidy(() => values(supConLoss(big, labels, { blockRows: 2048 })));
    assert.ok(allFinite(l) && l[0]! > 0);
    big.dispose();
  });
});

describe('anchors without positives', () => {
  // V = 1 and sample 3 has a unique label: anchor 3 has no positive.
  const f = randomFeatures(4, 4, 1, 5);
  const labels = [0, 0, 1, 2];
  it("'exclude' (default) drops them from the mean, 'zero' counts them as 0", () => {
    const none = values(supConLoss(f, labels, { reduction: 'none' }));
    assert.equal(none[2], 0);
    assert.equal(none[3], 0);
    const exclude = supConLossWithStats(f, labels);
    const zero = supConLossWithStats(f, labels, { zeroPositives: 'zero' });
    assert.equal(exclude.anchorsWithoutPositives, 2);
    assert.equal(exclude.validAnchors, 2);
    assertClose(values(exclude.loss), [(none[0]! + none[1]!) / 2], 1e-6, 1e-7, 'exclude');
    assertClose(values(zero.loss), [(none[0]! + none[1]!) / 4], 1e-6, 1e-7, 'zero');
    exclude.loss.dispose();
    zero.loss.dispose();
  });
  it('their gradient is exactly zero', () => {
    const g = values(
      tf.grad((x) => tf.sum(tf.slice(supConLoss(x, labels, { reduction: 'none' }), [3], [1])))(f),
    );
    assert.ok(g.every((v) => v === 0));
  });
  it('a batch where no anchor has a positive gives 0', () => {
    const s = supConLossWithStats(f, [0, 1, 2, 3]);
    assert.equal(values(s.loss)[0], 0);
    assert.equal(s.anchorsWithoutPositives, 4);
    s.loss.dispose();
  });
});

describe('ways to give positives', () => {
  const f = randomFeatures(7, 6, 2, 4);
  const labels = [0, 1, 0, 2, 1, 2];
  const sameLabel = labels.map((a) => labels.map((b) => (a === b ? 1 : 0)));
  const close = (a: tf.Tensor, b: tf.Tensor, what: string) =>
    assertClose(values(a), values(b), 1e-6, 1e-7, what);

  it('labels as number[], Int32Array and int tensor agree with the equivalent mask', () => {
    const expected = supConLoss(f, labels);
    close(supConLoss(f, Int32Array.from(labels)), expected, 'Int32Array');
    close(supConLoss(f, tf.tensor1d(labels, 'int32')), expected, 'tensor');
    close(supConLoss(f, undefined, { mask: sameLabel }), expected, 'mask');
  });
  it('one-hot multi-hot labels equal integer labels; shared labels make positives', () => {
    const oneHot = labels.map((l) => [0, 1, 2].map((c) => (c === l ? 1 : 0)));
    close(supConLoss(f, oneHot), supConLoss(f, labels), 'one-hot');
    const multi = [
      [1, 0, 0],
      [0, 1, 0],
      [1, 1, 0],
      [0, 0, 1],
      [0, 1, 0],
      [0, 0, 1],
    ];
    const m = multi.map((a) => multi.map((b) => (a.some((v, k) => v > 0 && b[k]! > 0) ? 1 : 0)));
    close(supConLoss(f, multi), supConLoss(f, undefined, { mask: m }), 'multi-hot');
  });
  it('no labels and no mask is SimCLR: the identity mask', () => {
    const eye = labels.map((_, i) => labels.map((__, j) => (i === j ? 1 : 0)));
    close(supConLoss(f), supConLoss(f, undefined, { mask: eye }), 'identity');
    close(ntXentLoss(f, { temperature: 0.2 }), supConLoss(f, undefined, { temperature: 0.2 }), 'ntXentLoss');
  });
  it('an asymmetric mask is read as mask[anchor sample][contrast sample]', () => {
    const mask = sameLabel.map((row) => [...row]);
    mask[0]![2] = 0; // sample 2 is not a positive of sample 0, but 0 stays a positive of 2
    const none = values(supConLoss(f, undefined, { mask, reduction: 'none' }));
    const sym = values(supConLoss(f, labels, { reduction: 'none' }));
    assert.notEqual(none[0], sym[0]);
    assertClose([none[2]!], [sym[2]!], 1e-6, 1e-7, 'sample 2 keeps its positives');
  });
  it('positivesCap = 0 keeps only the anchor’s own views and drops capped positives from the denominator', () => {
    // Anchor row 0 (sample 0, view 0): its positive is row 6 (sample 0, view 1); samples 2 and 8
    // share its label and are capped away: neither positives nor negatives.
    const z = values(tf.reshape(tf.transpose(f, [1, 0, 2]), [12, 4])); // view-major rows
    const dot = (i: number, j: number) =>
      [0, 1, 2, 3].reduce((s, d) => s + z[i * 4 + d]! * z[j * 4 + d]!, 0) / 0.1;
    const denominatorRows = [1, 3, 4, 5, 6, 7, 9, 10, 11]; // everything but itself and the other sample of class 0
    const expected = -(dot(0, 6) - Math.log(denominatorRows.reduce((s, j) => s + Math.exp(dot(0, j)), 0)));
    const none = values(supConLoss(f, labels, { positivesCap: 0, reduction: 'none' }));
    assertClose([none[0]!], [expected], 1e-5, 1e-6, 'cap 0, anchor 0');
  });
  it('a cap at least the class size changes nothing', () => {
    close(supConLoss(f, labels, { positivesCap: 10 }), supConLoss(f, labels), 'large cap');
  });
  it('features of rank 4 are flattened after the views axis', () => {
    const f4 = tf.reshape(f, [6, 2, 2, 2]);
    close(supConLoss(f4, labels), supConLoss(f, labels), 'rank 4');
  });
  it("contrast mode 'one' returns one loss per sample (view 0 anchors)", () => {
    assert.deepEqual(supConLoss(f, labels, { contrastMode: 'one', reduction: 'none' }).shape, [6]);
    assert.deepEqual(supConLoss(f, labels, { reduction: 'none' }).shape, [12]);
  });
  it('baseTemperature scales the loss by τ / baseTemperature; sum = mean · anchors', () => {
    const a = values(supConLoss(f, labels, { temperature: 0.1 }))[0]!;
    const b = values(supConLoss(f, labels, { temperature: 0.1, baseTemperature: 0.07 }))[0]!;
    assertClose([b], [(a * 0.1) / 0.07], 1e-6, 0, 'scale');
    const s = values(supConLoss(f, labels, { reduction: 'sum' }))[0]!;
    assertClose([s], [a * 12], 1e-6, 0, 'sum');
  });
});

describe('memory', () => {
  it('no tensor leaks across calls, with and without gradients, for every option', () => {
    const f = randomFeatures(8, 5, 2, 4);
    const labels = [0, 1, 0, 1, 1];
    const once = () => {
      for (const o of everyOption) {
        tf.dispose(supConLoss(f, labels, o));
        tf.dispose(supConLoss(f, labels, { ...o, reduction: 'none' }));
        tf.dispose(tf.grad((x) => supConLoss(x, labels, o))(f));
        tf.dispose(tf.grad((x) => tf.sum(supConLoss(x, labels, { ...o, reduction: 'none' })))(f));
        tf.dispose(
          tf.grad((x) =>
            supConLoss(x, undefined, {
              ...o,
              mask: [
                [1, 0, 0, 0, 1],
                [0, 1, 0, 0, 0],
                [0, 0, 1, 1, 0],
                [0, 0, 1, 1, 0],
                [1, 0, 0, 0, 1],
              ],
              positivesCap: 2,
            }),
          )(f),
        );
      }
    };
    once();
    const before = tf.memory().numTensors;
    once();
    once();
    assert.equal(tf.memory().numTensors, before);
    f.dispose();
  });
});

describe("zeroNegatives and reduction 'pair-mean' beyond integer labels", () => {
  // Sample 1 is a positive of every sample (and 3 of itself only): rows 1 and 3 have no negatives.
  const mask = [
    [1, 0.5, 0, 0, 0],
    [1, 1, 1, 1, 1],
    [0, 2, 1, 0, 0],
    [1, 1, 1, 1, 1],
    [0, 1, 0, 0, 0.25],
  ];
  const views = 2;
  const f = randomFeatures(21, 5, views, 6);
  const upstream = tf.tidy(() => tf.randomUniform([10], 0, 1, 'float32', 8));
  for (const implementation of ['host', 'tensor'] as const) {
    it(`'exclude' makes exactly the anchors without negatives invalid (${implementation})`, () => {
      const opts = { mask, temperature: 0.2, implementation, reduction: 'none' } as const;
      const kept = supConLossWithStats(f, undefined, opts);
      const dropped = supConLossWithStats(f, undefined, { ...opts, zeroNegatives: 'exclude' });
      const noNegatives = (row: number) => mask[row % 5]!.every((w) => w > 0);
      const a = values(kept.loss);
      const b = values(dropped.loss);
      for (let r = 0; r < 10; r++) assert.equal(b[r], noNegatives(r) ? 0 : a[r], `row ${r}`);
      assert.equal(dropped.validAnchors, kept.validAnchors - 4);
      const weights = tf.tensor1d(Array.from({ length: 10 }, (_, r) => (noNegatives(r) ? 0 : 1)));
      const expected = values(
        tf.grad((x) => tf.sum(tf.mul(tf.mul(supConLoss(x, undefined, opts), weights), upstream)))(f),
      );
      const got = values(
        tf.grad((x) =>
          tf.sum(tf.mul(supConLoss(x, undefined, { ...opts, zeroNegatives: 'exclude' }), upstream)),
        )(f),
      );
      assertClose(got, expected, 1e-5, 1e-7, 'gradient');
      tf.dispose([kept.loss, dropped.loss, weights]);
    });

    it(`'pair-mean' weights each anchor by ΣW, a weighted mask and two views (${implementation})`, () => {
      // Row r = v·B + a: ΣW = V·Σ_s mask[a][s] − mask[a][a] (the anchor row itself is no positive).
      const pairs = Array.from({ length: 10 }, (_, r) => {
        const row = mask[r % 5]!;
        return views * row.reduce((x, y) => x + y, 0) - row[r % 5]!;
      });
      const total = pairs.reduce((x, y) => x + y, 0);
      const opts = { mask, temperature: 0.2, implementation, variant: 'in' } as const;
      const recipe = (x: tf.Tensor) =>
        tf.div(tf.sum(tf.mul(supConLoss(x, undefined, { ...opts, reduction: 'none' }), pairs)), total);
      const pairMean = (x: tf.Tensor) => supConLoss(x, undefined, { ...opts, reduction: 'pair-mean' });
      tf.tidy(() => {
        assertClose(values(pairMean(f)), values(recipe(f)), 1e-5, 1e-7, 'value');
        assertClose(values(tf.grad(pairMean)(f)), values(tf.grad(recipe)(f)), 1e-5, 1e-7, 'gradient');
        // An upstream gradient other than 1 scales the gradient computed with the value.
        const dy = tf.scalar(0.7);
        const scaled = tf.grad((x) => tf.mul(pairMean(x), dy))(f);
        assertClose(values(scaled), values(tf.mul(tf.grad(recipe)(f), dy)), 1e-5, 1e-7, 'scaled');
      });
    });
  }

  it("'pair-mean' of a batch without positive pairs is 0 with a zero gradient", () => {
    const g = randomFeatures(4, 4, 1, 3);
    for (const implementation of ['host', 'tensor'] as const) {
      tf.tidy(() => {
        const opts = { reduction: 'pair-mean', implementation } as const;
        assert.equal(values(supConLoss(g, [0, 1, 2, 3], opts))[0], 0);
        assert.ok(values(tf.grad((x) => supConLoss(x, [0, 1, 2, 3], opts))(g)).every((v) => v === 0));
      });
    }
    g.dispose();
  });
});
