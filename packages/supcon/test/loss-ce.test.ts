/**
 * The cross-entropy baseline's loss (train/loss.ts, methodLoss('ce')) with and without label
 * smoothing against torch.nn.functional.cross_entropy(label_smoothing=ε), value and gradient with
 * respect to the logits (fixtures/ce-label-smoothing.json, /usr/bin/python3 reference/make_ce_fixture.py);
 * and the config's checks of ε.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { methodLoss, resolveConfig } from 'supcon';
import { assertClose } from './helpers.js';

const fixture = JSON.parse(
  readFileSync(new URL('../test/fixtures/ce-label-smoothing.json', import.meta.url), 'utf8'),
) as {
  views: number;
  shape: [number, number];
  logits: number[];
  labels: number[];
  cases: { labelSmoothing: number; loss: number; grad: number[] }[];
};

/** The PyTorch fixtures' tolerance: |a − b| ≤ 1e-6 + 1e-5·|b|. */
const close = (actual: ArrayLike<number>, expected: readonly number[], what: string) =>
  assertClose(actual, expected, 1e-5, 1e-6, what);

for (const c of fixture.cases)
  test(`ce with label smoothing ${c.labelSmoothing} equals torch's cross_entropy in value and gradient`, () => {
    const logits = tf.tensor2d(fixture.logits, fixture.shape);
    const labels = Int32Array.from(fixture.labels);
    const options = {
      temperature: 0.1,
      ...(c.labelSmoothing > 0 ? { labelSmoothing: c.labelSmoothing } : {}),
    };
    const x = tf.variable(logits, true, `ce-x-${c.labelSmoothing}-${Math.random()}`);
    const out = tf.variableGrads(
      () => methodLoss('ce', x as unknown as tf.Tensor2D, labels, fixture.views, options),
      [x],
    );
    close(out.value.dataSync(), [c.loss], 'loss');
    close(out.grads[x.name]!.dataSync(), c.grad, 'd loss / d logits');
    tf.dispose([logits, x, out.value, ...Object.values(out.grads)]);
  });

test('smoothing changes the loss (the fixture cases differ), and 0 is the plain cross-entropy', () => {
  const losses = fixture.cases.map((c) => c.loss);
  assert.equal(new Set(losses).size, losses.length);
});

test('labelSmoothing: in [0, 1), ce only, 0 not stored', () => {
  assert.equal(resolveConfig({ method: 'ce', labelSmoothing: 0.1 }).labelSmoothing, 0.1);
  assert.ok(!('labelSmoothing' in resolveConfig({ method: 'ce', labelSmoothing: 0 })));
  for (const bad of [1, -0.1, 1.5, Number.NaN])
    assert.throws(
      () => resolveConfig({ method: 'ce', labelSmoothing: bad }),
      new RegExp(
        `argument \`labelSmoothing\`. Expected a number in \\[0, 1\\). Received: labelSmoothing=${bad}`,
      ),
    );
  assert.throws(
    () => resolveConfig({ method: 'supcon', labelSmoothing: 0.1 }),
    /`labelSmoothing`. Expected no value for the supcon and simclr methods/,
  );
});
