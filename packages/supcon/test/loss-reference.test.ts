/**
 * The loss against the independent PyTorch float64 reference (reference/supcon_reference.py):
 * values, gradients and anchor counts for every fixture case, on both implementations.
 * Regenerate the fixtures with `/usr/bin/python3 reference/make_loss_fixtures.py`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { type Labels, type SupConOptions, supConLossWithStats } from 'supcon';
import { assertClose, values } from './helpers.js';

interface Matrix {
  shape: [number, number];
  values: number[];
}
interface Fixture {
  name: string;
  shape: number[];
  features: number[];
  labels?: number[];
  multiHot?: Matrix;
  mask?: Matrix;
  options: SupConOptions;
  loss: number | number[];
  upstream?: number[];
  grad: number[];
  anchorsWithoutPositives: number;
}

const path = new URL('../test/fixtures/loss-cases.json', import.meta.url);
const fixtures = JSON.parse(readFileSync(path, 'utf8')) as Fixture[];

function labelsOf(c: Fixture): Labels | undefined {
  if (c.labels) return c.labels;
  if (c.multiHot) return tf.tensor2d(c.multiHot.values, c.multiHot.shape);
  return undefined;
}

describe('PyTorch float64 reference fixtures', () => {
  it('has a broad set of cases', () => {
    assert.ok(fixtures.length >= 100, `only ${fixtures.length} fixture cases`);
  });
  for (const implementation of ['host', 'tensor'] as const) {
    describe(`implementation '${implementation}'`, () => {
      for (const c of fixtures) {
        it(c.name, () => {
          const features = tf.tensor(c.features, c.shape);
          const labels = labelsOf(c);
          const options: SupConOptions = { ...c.options, implementation };
          if (c.mask) options.mask = tf.tensor2d(c.mask.values, c.mask.shape);
          const expected = Array.isArray(c.loss) ? c.loss : [c.loss];
          const stats = supConLossWithStats(features, labels, options);
          assertClose(values(stats.loss), expected, 1e-4, 1e-5, `${c.name}: loss`);
          assert.equal(
            stats.anchorsWithoutPositives,
            c.anchorsWithoutPositives,
            `${c.name}: anchors without positives`,
          );
          stats.loss.dispose();
          const upstream = c.upstream ? tf.tensor1d(c.upstream) : undefined;
          const grad = tf.grad((x) => {
            const l = supConLossWithStats(x, labels, options).loss;
            return upstream ? tf.sum(tf.mul(l, upstream)) : l;
          })(features);
          assertClose(values(grad), c.grad, 1e-4, 1e-5, `${c.name}: gradient`);
          tf.dispose([
            features,
            grad,
            upstream,
            options.mask as tf.Tensor | undefined,
            labels instanceof tf.Tensor ? labels : undefined,
          ]);
        });
      }
    });
  }
});
