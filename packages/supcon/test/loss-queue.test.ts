/**
 * SupCon against a memory queue: PyTorch float64 fixtures (reference/queue_reference.py, values and
 * gradients), equality with supConLoss for an empty queue, the ring buffer's order and state, and
 * the errors. Regenerate the fixtures with `/usr/bin/python3 reference/queue_reference.py --write`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { FeatureQueue, type QueueLossOptions, rowLogSumExp, supConLoss, supConQueueLoss } from 'supcon';
import { assertClose, randomFeatures, randomLabels, values } from './helpers.js';

interface Fixture {
  name: string;
  shape: [number, number, number];
  features: number[];
  labels?: number[];
  queue: number[];
  queueLabels: number[];
  options: QueueLossOptions;
  loss: number | number[];
  upstream?: number[];
  grad: number[];
  validAnchors: number;
}

const fixtures = JSON.parse(
  readFileSync(new URL('../test/fixtures/queue-cases.json', import.meta.url), 'utf8'),
) as Fixture[];

describe('supConQueueLoss against the PyTorch float64 reference', () => {
  it('has cases with and without labels, both modes and variants, and an empty queue', () => {
    assert.ok(fixtures.length >= 40);
    assert.ok(
      fixtures.some((c) => c.labels === undefined) && fixtures.some((c) => c.queueLabels.length === 0),
    );
  });
  for (const c of fixtures) {
    it(c.name, () => {
      const [, , dim] = c.shape;
      const features = tf.tensor3d(c.features, c.shape);
      const queue = {
        features: tf.tensor2d(c.queue, [c.queueLabels.length, dim]),
        labels: c.queueLabels,
      };
      const expected = Array.isArray(c.loss) ? c.loss : [c.loss];
      const loss = supConQueueLoss(features, c.labels, queue, c.options);
      assertClose(values(loss), expected, 1e-4, 1e-5, `${c.name}: loss`);
      const upstream = c.upstream ? tf.tensor1d(c.upstream) : undefined;
      const grad = tf.grad((x) => {
        const l = supConQueueLoss(x, c.labels, queue, c.options);
        return upstream ? tf.sum(tf.mul(l, upstream)) : l;
      })(features);
      assertClose(values(grad), c.grad, 1e-4, 1e-5, `${c.name}: gradient`);
      tf.dispose([features, queue.features, loss, upstream, grad]);
    });
  }
});

describe('supConQueueLoss with an empty queue is supConLoss', () => {
  for (const [batch, views, labelled] of [
    [6, 2, true],
    [5, 3, false],
    [8, 1, true],
  ] as const) {
    for (const options of [
      { temperature: 0.1 },
      { temperature: 0.5, baseTemperature: 0.07, variant: 'in' as const },
      { contrastMode: 'one' as const, reduction: 'none' as const },
      { reduction: 'sum' as const, zeroPositives: 'zero' as const },
      { reduction: 'none' as const, zeroNegatives: 'exclude' as const },
    ]) {
      it(`B ${batch} V ${views} ${labelled ? 'labels' : 'SimCLR'} ${JSON.stringify(options)}`, () => {
        const f = randomFeatures(batch * 7 + views, batch, views, 16);
        const labels = labelled ? randomLabels(batch, batch, 3) : undefined;
        const empty = new FeatureQueue({ capacity: 4, dim: 16 });
        const ours = (x: tf.Tensor) => supConQueueLoss(x, labels, empty, options);
        const theirs = (x: tf.Tensor) => supConLoss(x, labels, options);
        assertClose(values(ours(f)), values(theirs(f)), 1e-5, 1e-6, 'loss');
        const sum = (fn: (x: tf.Tensor) => tf.Tensor) => (x: tf.Tensor) => tf.sum(fn(x));
        assertClose(values(tf.grad(sum(ours))(f)), values(tf.grad(sum(theirs))(f)), 1e-4, 1e-6, 'gradient');
      });
    }
  }
});

describe("supConQueueLoss zeroNegatives: 'exclude'", () => {
  it('a one-class batch against a queue of that class scores 0 with a zero gradient', () => {
    const f = randomFeatures(5, 4, 2, 8);
    const queue = {
      features: tf.reshape(randomFeatures(6, 3, 1, 8), [3, 8]) as tf.Tensor2D,
      labels: [2, 2, 2],
    };
    const labels = [2, 2, 2, 2];
    tf.tidy(() => {
      const kept = supConQueueLoss(f, labels, queue, { reduction: 'none' });
      assert.ok(values(kept).every((v) => v > 0));
      const loss = (x: tf.Tensor) => supConQueueLoss(x, labels, queue, { zeroNegatives: 'exclude' });
      assert.equal(values(loss(f))[0], 0);
      assert.ok(values(tf.grad(loss)(f)).every((g) => g === 0));
      // One queue row of another class gives every anchor a negative again.
      const mixed = { ...queue, labels: [2, 2, 0] };
      assertClose(
        values(supConQueueLoss(f, labels, mixed, { zeroNegatives: 'exclude' })),
        values(supConQueueLoss(f, labels, mixed)),
        1e-6,
        1e-7,
        'with a negative',
      );
    });
    tf.dispose([f, queue.features]);
  });
  it('rejects an unknown policy', () => {
    const f = randomFeatures(5, 2, 2, 8);
    const q = new FeatureQueue({ capacity: 2, dim: 8 });
    assert.throws(
      () => supConQueueLoss(f, [0, 1], q, { zeroNegatives: 'drop' } as unknown as QueueLossOptions),
      /`zeroNegatives`.*'include', 'exclude'.*zeroNegatives="drop"/,
    );
    f.dispose();
  });
});

describe('FeatureQueue', () => {
  it('keeps the newest rows, oldest first, with labels repeated per view', () => {
    const q = new FeatureQueue({ capacity: 5, dim: 2 });
    assert.equal(q.size, 0);
    // [B=2, V=2, 2]: rows (sample, view) = (0,0) (0,1) (1,0) (1,1)
    q.enqueue(tf.tensor3d([1, 1, 2, 2, 3, 3, 4, 4], [2, 2, 2]), [7, 8]);
    assert.equal(q.size, 4);
    q.enqueue(tf.tensor2d([5, 5, 6, 6], [2, 2])); // unlabelled rows
    assert.equal(q.size, 5);
    const snap = q.snapshot();
    assert.deepEqual(Array.from(snap.features.dataSync()), [2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
    assert.deepEqual(Array.from(snap.labels), [7, 8, 8, -1, -1]);
    snap.features.dispose();
  });

  it('restores its state into a queue of another capacity, keeping the newest rows', () => {
    const q = new FeatureQueue({ capacity: 3, dim: 1 });
    q.enqueue(tf.tensor2d([1, 2, 3, 4], [4, 1]), [0, 1, 2, 3]);
    const small = new FeatureQueue({ capacity: 2, dim: 1 });
    small.restore(q.state());
    const snap = small.snapshot();
    assert.deepEqual(Array.from(snap.features.dataSync()), [3, 4]);
    assert.deepEqual(Array.from(snap.labels), [2, 3]);
    snap.features.dispose();
    small.clear();
    assert.equal(small.size, 0);
  });

  it('adds a same-label queue row as a positive and other rows as negatives', () => {
    // One sample, one view: no positive in the batch; a queue row of its label makes it valid.
    const z = tf.tensor3d([1, 0], [1, 1, 2]);
    const q = new FeatureQueue({ capacity: 4, dim: 2 });
    q.enqueue(tf.tensor2d([1, 0, 0, 1], [2, 2]), [3, 4]);
    const loss = supConQueueLoss(z, [3], q, { temperature: 1 });
    // −log(e¹ / (e¹ + e⁰))
    assertClose(values(loss), [Math.log(1 + Math.exp(-1))], 1e-6, 1e-7, 'loss');
  });

  it('does not leak tensors', () => {
    const f = randomFeatures(3, 4, 2, 8);
    const q = new FeatureQueue({ capacity: 16, dim: 8 });
    q.enqueue(f, [0, 1, 0, 1]);
    const before = tf.memory().numTensors;
    const g = tf.grad((x) => supConQueueLoss(x, [1, 0, 0, 1], q))(f);
    g.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('names the argument, the expectation and the value on bad input', () => {
    assert.throws(() => new FeatureQueue({ capacity: 0, dim: 2 }), /`capacity`.*integer > 0/);
    const q = new FeatureQueue({ capacity: 4, dim: 2 });
    assert.throws(() => q.enqueue(tf.zeros([2, 3])), /`features`.*\[rows, 2\]/);
    assert.throws(() => q.enqueue(tf.zeros([2, 2]), [1]), /`labels`.*2 labels/);
    assert.throws(() => q.enqueue(tf.zeros([2, 2]), [1, -2]), /`labels`.*-2/);
    const f = tf.zeros([2, 2, 3]);
    assert.throws(() => supConQueueLoss(f, [0, 1], q), /`queue`.*dim 3/);
    const q3 = new FeatureQueue({ capacity: 4, dim: 3 });
    assert.throws(() => supConQueueLoss(f, [0], q3), /`labels`.*2 labels/);
    assert.throws(() => supConQueueLoss(f, [0, 1.5], q3), /`labels`.*1\.5/);
    assert.throws(() => supConQueueLoss(f, [0, 1], q3, { temperature: 0 }), /`temperature`/);
    assert.throws(
      () => supConQueueLoss(f, [0, 1], q3, { denominator: 'all' } as QueueLossOptions),
      /`options`.*denominator/,
    );
  });

  it('rowLogSumExp equals tf.logSumExp in value and gradient, also where exp would overflow', () => {
    const x = tf.tensor2d([
      [1, 2, 3, -1e9],
      [500, 499, -3, 0.5],
      [-800, -801, -799.5, -1e9],
    ]);
    const w = tf.tensor1d([0.3, -1.2, 2]);
    const ours = tf.grad((v) => tf.sum(tf.mul(rowLogSumExp(v as tf.Tensor2D), w)))(x);
    const ref = tf.grad((v) => tf.sum(tf.mul(tf.logSumExp(v, 1), w)))(x);
    assertClose(rowLogSumExp(x).dataSync(), tf.logSumExp(x, 1).dataSync(), 1e-6, 1e-5, 'value');
    assertClose(ours.dataSync(), ref.dataSync(), 1e-5, 1e-7, 'gradient');
    for (const v of rowLogSumExp(x).dataSync()) assert.ok(Number.isFinite(v));
  });
});
