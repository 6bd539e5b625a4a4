/** The loss against the published golden values, the closed form and finite differences. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { type Denominator, supConLoss, supConLossWithStats, type Variant } from 'supcon';
import { assertClose, randomFeatures, randomLabels, values } from './helpers.js';

// The official TensorFlow tests (google-research/google-research, supcon/losses_test.py,
// testLossForSummationLocationsAndDenominatorModes): τ = 1, unnormalised features, labels 0, 0, 1;
// per-sample loss = mean over the two views.
const goldenFeatures = [
  [
    [0.01, 0.02, 0.14],
    [0.38, 0.61, 0.5],
  ],
  [
    [0.86, 0.97, 0.33],
    [0.26, 0.68, 0.45],
  ],
  [
    [0.32, 0.64, 0.28],
    [0.45, 0.74, 0.73],
  ],
];
const golden: Record<Variant, Record<Denominator, number[]>> = {
  out: {
    all: [1.6755852, 1.7973773, 1.58471],
    'one-positive': [1.1782627, 1.3435497, 1.58471],
    'only-negatives': [0.79652834, 1.0154991, 1.3529458],
  },
  in: {
    all: [1.6356678, 1.7135872, 1.58471],
    'one-positive': [1.1571673, 1.2941568, 1.58471],
    'only-negatives': [0.756611, 0.93170905, 1.3529458],
  },
};

describe('golden values of the official TensorFlow implementation', () => {
  for (const variant of ['out', 'in'] as const) {
    for (const denominator of ['all', 'one-positive', 'only-negatives'] as const) {
      it(`L_${variant}, denominator ${denominator}`, () => {
        const f = tf.tensor3d(goldenFeatures);
        const perAnchor = values(
          supConLoss(f, [0, 0, 1], { temperature: 1, variant, denominator, reduction: 'none' }),
        );
        const perSample = [0, 1, 2].map((s) => (perAnchor[s]! + perAnchor[s + 3]!) / 2);
        assertClose(perSample, golden[variant][denominator], 2e-6, 2e-6, `${variant}/${denominator}`);
        f.dispose();
      });
    }
  }
});

describe('closed form: identical unit features', () => {
  for (const [batch, views] of [
    [4, 2],
    [5, 3],
    [8, 1],
  ] as const) {
    it(`every anchor with a positive scores log(N·V − 1) · scale (batch ${batch}, views ${views})`, () => {
      const f = tf.tidy(() => tf.div(tf.ones([batch, views, 6]), Math.sqrt(6)));
      const labels = Array.from({ length: batch }, (_, i) => i % 2);
      for (const temperature of [0.01, 0.1, 1, 10]) {
        const baseTemperature = 0.07;
        const stats = supConLossWithStats(f, labels, { temperature, baseTemperature });
        const expected = Math.log(batch * views - 1) * (temperature / baseTemperature);
        assertClose(values(stats.loss), [expected], 1e-5, 1e-6, `τ=${temperature}`);
        assert.equal(stats.anchorsWithoutPositives, 0);
        stats.loss.dispose();
      }
      f.dispose();
    });
  }
});

/** Central finite differences of the scalar loss, in float32 with a generous step. */
function finiteDifferences(f: tf.Tensor3D, loss: (x: tf.Tensor) => tf.Tensor, eps: number): Float32Array {
  const base = Float32Array.from(values(f));
  const grad = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const plus = Float32Array.from(base);
    const minus = Float32Array.from(base);
    plus[i]! += eps;
    minus[i]! -= eps;
    const lp = tf.tidy(() => values(loss(tf.tensor(plus, f.shape)))[0]!);
    const lm = tf.tidy(() => values(loss(tf.tensor(minus, f.shape)))[0]!);
    grad[i] = (lp - lm) / (2 * eps);
  }
  return grad;
}

describe('analytic gradient equals finite differences', () => {
  const cases: Array<{
    name: string;
    options: Parameters<typeof supConLoss>[2];
    labels?: number[];
    views: number;
  }> = [
    { name: 'L_out, all, SupCon', options: { temperature: 0.5 }, labels: [0, 1, 0, 2, 1], views: 2 },
    { name: 'L_in, all', options: { temperature: 0.5, variant: 'in' }, labels: [0, 1, 0, 2, 1], views: 2 },
    {
      name: 'L_out, one-positive',
      options: { temperature: 0.5, denominator: 'one-positive' },
      labels: [0, 1, 0, 2, 1],
      views: 2,
    },
    {
      name: 'L_in, one-positive',
      options: { temperature: 0.5, variant: 'in', denominator: 'one-positive' },
      labels: [0, 1, 0, 1, 1],
      views: 2,
    },
    {
      name: 'L_out, only-negatives',
      options: { temperature: 0.5, denominator: 'only-negatives' },
      labels: [0, 1, 0, 2, 1],
      views: 3,
    },
    {
      name: 'L_in, only-negatives',
      options: { temperature: 0.5, variant: 'in', denominator: 'only-negatives' },
      labels: [0, 1, 0, 2, 1],
      views: 2,
    },
    { name: 'SimCLR, contrast mode one', options: { temperature: 0.5, contrastMode: 'one' }, views: 3 },
    {
      name: 'V = 1 with anchors without positives, zero policy',
      options: { temperature: 0.5, zeroPositives: 'zero' },
      labels: [0, 1, 0, 2, 1],
      views: 1,
    },
    {
      name: 'positives cap',
      options: { temperature: 0.5, positivesCap: 2 },
      labels: [0, 0, 0, 0, 1],
      views: 2,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const f = randomFeatures(11, 5, c.views, 4, false);
      const loss = (x: tf.Tensor) => supConLoss(x, c.labels, c.options);
      const analytic = values(tf.grad(loss)(f));
      const numeric = finiteDifferences(f, loss, 1e-2);
      assertClose(analytic, numeric, 2e-2, 2e-3, c.name);
      f.dispose();
    });
  }
});

describe('block size does not change the result', () => {
  it('values and gradients agree for blockRows 1, 3, 7 and the default', () => {
    const f = randomFeatures(3, 9, 2, 8);
    const labels = randomLabels(4, 9, 3);
    const run = (blockRows?: number) =>
      tf.tidy(() => {
        const opts = blockRows ? { blockRows } : {};
        const [l, g] = [supConLoss(f, labels, opts), tf.grad((x) => supConLoss(x, labels, opts))(f)];
        return [values(l)[0]!, ...values(g)];
      });
    const reference = run();
    for (const b of [1, 3, 7]) assertClose(run(b), reference, 1e-5, 1e-6, `blockRows ${b}`);
    f.dispose();
  });

  it('the eager gradient of a reduced loss equals the recomputed gradient of reduction none', () => {
    const f = randomFeatures(5, 6, 3, 5);
    const labels = randomLabels(6, 6, 2);
    for (const variant of ['out', 'in'] as const) {
      for (const denominator of ['all', 'one-positive', 'only-negatives'] as const) {
        const opts = { variant, denominator, temperature: 0.2 };
        const eager = tf.tidy(() => values(tf.grad((x) => supConLoss(x, labels, opts))(f)));
        // mean over valid anchors == sum of 'none' / count, with the gradient through the recompute path
        const count = supConLossWithStats(f, labels, opts);
        count.loss.dispose();
        const recomputed = tf.tidy(() =>
          values(
            tf.grad((x) =>
              tf.div(tf.sum(supConLoss(x, labels, { ...opts, reduction: 'none' })), count.validAnchors),
            )(f),
          ),
        );
        assertClose(recomputed, eager, 1e-4, 1e-6, `${variant}/${denominator}`);
      }
    }
    f.dispose();
  });
});
