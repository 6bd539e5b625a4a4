/**
 * The fused host path and the whole-tensor path agree on values and gradients for every option,
 * for a batch of 7 and for a batch of one sample (a last batch; the tensor path once threw there).
 * Every case is run with every reduction; the other options rotate over the cases, and a coverage
 * check below fails if some option value is no longer run at batch 1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { type Labels, ntXentLoss, type SupConOptions, supConLayersLoss, supConLoss } from 'supcon';
import { assertClose, randomFeatures, randomLabels, rng, values } from './helpers.js';

const REDUCTIONS = ['mean', 'pair-mean', 'sum', 'none'] as const;

/** Options that rotate over the cases (index k), on top of source, views, variant and denominator. */
function flavour(k: number, views: number): SupConOptions {
  switch (k % 4) {
    case 0:
      return {};
    case 1:
      return { zeroPositives: 'zero', zeroNegatives: 'exclude', baseTemperature: 0.07 };
    case 2:
      return { zeroNegatives: 'exclude', contrastMode: 'one', checkFinite: false, blockRows: 1 };
    default:
      return { zeroPositives: 'zero', zeroNegatives: 'include', positivesCap: views, contrastMode: 'all' };
  }
}

type Case = { name: string; labels?: Labels; options: SupConOptions; views: number };

function cases(batch: number): Case[] {
  const out: Case[] = [];
  const r = rng(3);
  const mask = Array.from({ length: batch }, (_, a) =>
    Array.from({ length: batch }, (__, s) =>
      a === s ? (a % 3 === 0 ? 0 : 1) : r() < 0.3 ? Math.round(r() * 20) / 10 : 0,
    ),
  );
  const multiHot = Array.from({ length: batch }, (_, a) =>
    Array.from({ length: 40 }, (__, k) => (k === a % 4 || (k === 35 && a % 2 === 0) ? 1 : 0)),
  );
  const sources: Array<[string, Labels | undefined, SupConOptions]> = [
    ['labels', randomLabels(4, batch, 3), {}],
    ['simclr', undefined, {}],
    ['mask', undefined, { mask }],
    ['multi-hot', multiHot, {}],
  ];
  for (const [sourceName, labels, extra] of sources) {
    for (const views of [1, 2, 3]) {
      for (const variant of ['out', 'in'] as const) {
        for (const denominator of ['all', 'one-positive', 'only-negatives'] as const) {
          const contrastMode = views === 3 ? 'one' : 'all';
          const positivesCap = views === 2 && sourceName === 'labels' ? 2 : -1;
          const options: SupConOptions = {
            ...extra,
            variant,
            denominator,
            contrastMode,
            positivesCap,
            temperature: 0.3,
            blockRows: 5,
            ...flavour(out.length, views),
          };
          const { mask: _, ...shown } = options;
          out.push({
            name: `B=${batch}, ${sourceName}, V=${views}, ${JSON.stringify(shown)}`,
            options,
            views,
            ...(labels ? { labels } : {}),
          });
        }
      }
    }
  }
  return out;
}

describe("implementation 'host' equals implementation 'tensor'", () => {
  const batchOne = cases(1);
  it('runs every option value at batch 1', () => {
    const seen = new Map<string, Set<string>>();
    for (const c of batchOne) {
      for (const [key, value] of Object.entries(c.options)) {
        const set = seen.get(key) ?? new Set<string>();
        set.add(key === 'mask' ? 'given' : key === 'positivesCap' ? String(value >= 0) : String(value));
        seen.set(key, set);
      }
      seen.set('labels', (seen.get('labels') ?? new Set()).add(c.labels === undefined ? 'none' : 'given'));
    }
    const expected: Record<string, string[]> = {
      labels: ['none', 'given'],
      mask: ['given'],
      temperature: ['0.3'],
      baseTemperature: ['0.07'],
      contrastMode: ['all', 'one'],
      variant: ['out', 'in'],
      denominator: ['all', 'one-positive', 'only-negatives'],
      positivesCap: ['true', 'false'],
      zeroPositives: ['zero'],
      zeroNegatives: ['include', 'exclude'],
      checkFinite: ['false'],
      blockRows: ['1', '5'],
    };
    for (const [key, wanted] of Object.entries(expected)) {
      for (const w of wanted) assert.ok(seen.get(key)?.has(w), `batch 1 never runs ${key} = ${w}`);
    }
    // Defaults (zeroPositives 'exclude', checkFinite true) run in the cases that leave them unset.
    assert.ok(
      batchOne.some((c) => c.options.zeroPositives === undefined && c.options.checkFinite === undefined),
    );
  });
  for (const c of [...cases(7), ...batchOne]) {
    it(c.name, () => {
      const batch = c.name.startsWith('B=1,') ? 1 : 7;
      const f = randomFeatures(c.name.length, batch, c.views, 5);
      const upstream = tf.tidy(() =>
        tf.randomUniform([c.options.contrastMode === 'one' ? batch : batch * c.views], 0, 1, 'float32', 5),
      );
      const run = (implementation: 'host' | 'tensor') =>
        tf.tidy(() => {
          const out: number[] = [];
          for (const reduction of REDUCTIONS) {
            const opts: SupConOptions = { ...c.options, implementation, reduction };
            const objective = (x: tf.Tensor) => {
              const l = supConLoss(x, c.labels, opts);
              return reduction === 'none' ? tf.sum(tf.mul(l, upstream)) : (l as tf.Scalar);
            };
            out.push(...values(supConLoss(f, c.labels, opts)), ...values(tf.grad(objective)(f)));
          }
          return out;
        });
      assertClose(run('host'), run('tensor'), 1e-4, 1e-6, c.name);
      tf.dispose([f, upstream]);
    });
  }
});

describe('the other loss entry points at batch 1', () => {
  for (const views of [1, 2]) {
    it(`ntXentLoss, V=${views}`, () => {
      const f = randomFeatures(11, 1, views, 4);
      const run = (implementation: 'host' | 'tensor') =>
        tf.tidy(() => [
          ...values(ntXentLoss(f, { implementation })),
          ...values(tf.grad((x) => ntXentLoss(x, { implementation }))(f)),
        ]);
      const host = run('host');
      assert.ok(host.every(Number.isFinite));
      assertClose(host, run('tensor'), 1e-4, 1e-6, `ntXentLoss V=${views}`);
      f.dispose();
    });
  }
  it('supConLayersLoss', () => {
    const yPred = tf.tidy(() => tf.randomNormal([1, 2 * 4], 0, 1, 'float32', 3));
    const yTrue = tf.tensor2d([[2, 2, 2, 2, 2, 2, 2, 2]]);
    const run = (implementation: 'host' | 'tensor') =>
      tf.tidy(() => {
        const loss = supConLayersLoss({ views: 2, implementation });
        return [...values(loss(yTrue, yPred)), ...values(tf.grad((y) => loss(yTrue, y))(yPred))];
      });
    assertClose(run('host'), run('tensor'), 1e-4, 1e-6, 'supConLayersLoss');
    tf.dispose([yPred, yTrue]);
  });
});
