/**
 * The fused host path and the whole-tensor path agree on values and gradients for every option,
 * for a batch of 7 and for a batch of one sample (a last batch; the tensor path once threw there).
 */
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { type Labels, type SupConOptions, supConLoss } from 'supcon';
import { assertClose, randomFeatures, randomLabels, rng, values } from './helpers.js';

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
          };
          out.push({
            name: `B=${batch}, ${sourceName}, V=${views}, ${variant}/${denominator}, ${contrastMode}`,
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
  for (const c of [...cases(7), ...cases(1)]) {
    it(c.name, () => {
      const batch = c.name.startsWith('B=1,') ? 1 : 7;
      const f = randomFeatures(c.name.length, batch, c.views, 5);
      const upstream = tf.tidy(() =>
        tf.randomUniform([c.options.contrastMode === 'one' ? batch : batch * c.views], 0, 1, 'float32', 5),
      );
      const run = (implementation: 'host' | 'tensor') =>
        tf.tidy(() => {
          const opts = { ...c.options, implementation };
          const mean = values(supConLoss(f, c.labels, opts));
          const none = values(supConLoss(f, c.labels, { ...opts, reduction: 'none' }));
          const gMean = values(tf.grad((x) => supConLoss(x, c.labels, opts))(f));
          const gNone = values(
            tf.grad((x) => tf.sum(tf.mul(supConLoss(x, c.labels, { ...opts, reduction: 'none' }), upstream)))(
              f,
            ),
          );
          return [...mean, ...none, ...gMean, ...gNone];
        });
      assertClose(run('host'), run('tensor'), 1e-4, 1e-6, c.name);
      tf.dispose([f, upstream]);
    });
  }
});
