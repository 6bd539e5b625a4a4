/**
 * The recipe options of the trainer: the class-balanced sampler (m samples of each of batchSize/m
 * classes in every batch, coverage, a pure function of (seed, epoch), exact resume, refusals) and the
 * joint probe (the encoder's gradient and weights unchanged by it, its state resumed exactly).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  balancedEpochOrder,
  batchesPerEpoch,
  batchIndices,
  DataParallelTrainer,
  InvalidArgumentError,
  mlpEncoder,
  projectionHead,
  Random,
  resolveConfig,
  samplerOrder,
  type TrainConfig,
  Trainer,
  type TrainSet,
} from 'supcon';

/** `count` 4×4 images of `classes` classes (sizes as given by `classOf`), noisy class-coloured pixels. */
function dataset(count: number, classOf: (i: number) => number, seed = 1): TrainSet {
  const r = new Random(seed);
  const labels = Int32Array.from({ length: count }, (_, i) => classOf(i));
  const images = new Uint8Array(count * 16);
  for (let i = 0; i < count; i++)
    for (let j = 0; j < 16; j++) images[i * 16 + j] = Math.floor(20 * labels[i]! + 100 * r.next());
  return { images, labels, count, height: 4, width: 4, channels: 1 };
}

test('balanced sampler: every batch holds m samples of each of batchSize/m distinct classes', () => {
  const labels = dataset(200, (i) => i % 10).labels;
  for (const [batch, m] of [
    [20, 4],
    [40, 4],
    [16, 8],
  ] as const) {
    for (const epoch of [0, 1, 5]) {
      const order = balancedEpochOrder(labels, 3, epoch, batch, m);
      assert.equal(order.length, batchesPerEpoch(200, batch) * batch);
      for (let step = 0; step < batchesPerEpoch(200, batch); step++) {
        const counts = new Map<number, number>();
        for (const i of batchIndices(order, step, batch))
          counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
        assert.equal(counts.size, batch / m, `batch ${step} of epoch ${epoch}: ${[...counts]}`);
        for (const n of counts.values()) assert.equal(n, m);
      }
    }
  }
  // batchSize / m equal to the classes: every class in every batch.
  const all = balancedEpochOrder(labels, 0, 0, 40, 4);
  assert.equal(new Set(Array.from(all.subarray(0, 40), (i) => labels[i])).size, 10);
});

test('balanced sampler: an epoch of equal classes covers the set once; a class stream never repeats early', () => {
  const labels = dataset(120, (i) => i % 4).labels; // 30 per class
  const order = balancedEpochOrder(labels, 7, 0, 24, 6); // 5 batches of 4 classes × 6
  assert.equal(new Set(order).size, 120, 'every sample once');
  // Unequal classes (60, 30, 20, 10): within every class, no sample comes back before all were drawn.
  const uneven = dataset(120, (i) => (i < 60 ? 0 : i < 90 ? 1 : i < 110 ? 2 : 3)).labels;
  const seen = new Map<number, number[]>();
  for (let epoch = 0; epoch < 4; epoch++)
    for (const i of balancedEpochOrder(uneven, 7, epoch, 12, 3)) {
      const c = uneven[i]!;
      seen.set(c, [...(seen.get(c) ?? []), i]);
    }
  for (const [c, drawn] of seen) {
    const n = uneven.filter((l) => l === c).length;
    for (let start = 0; start + n <= drawn.length; start += n)
      assert.equal(new Set(drawn.slice(start, start + n)).size, n, `class ${c}, pass at ${start}`);
  }
});

test('balanced sampler: a pure function of (seed, epoch); other seeds and epochs differ', () => {
  const labels = dataset(100, (i) => i % 5).labels;
  const s = { sampler: 'balanced', samplesPerClass: 5, batchSize: 20, seed: 2 } as const;
  assert.deepEqual(samplerOrder(s, labels, 3), samplerOrder(s, labels, 3));
  assert.notDeepEqual(samplerOrder(s, labels, 3), samplerOrder(s, labels, 4));
  assert.notDeepEqual(samplerOrder(s, labels, 3), samplerOrder({ ...s, seed: 3 }, labels, 3));
  // 'random' (and absent) is the permutation it always was.
  assert.equal(new Set(samplerOrder({ batchSize: 20, seed: 2 }, labels, 0)).size, 100);
});

test('balanced sampler: bad combinations are refused naming samplesPerClass', () => {
  const labels = dataset(40, (i) => (i < 36 ? i % 3 : 3)).labels; // classes 12, 12, 12, 4
  const refuse = (batch: number, m: number, what: RegExp) =>
    assert.throws(
      () => balancedEpochOrder(labels, 0, 0, batch, m),
      (e: unknown) =>
        e instanceof InvalidArgumentError && e.argument === 'samplesPerClass' && what.test(e.message),
    );
  refuse(12, 5, /a divisor of batchSize=12.*samplesPerClass=5/);
  refuse(
    10,
    2,
    /at least 3 \(batchSize 10 \/ samplesPerClass must not exceed the 4 classes of the data; 2 needs 5\)/,
  );
  refuse(12, 6, /at most 4 \(class 3, the smallest, has 4 samples\)/);
  assert.throws(() => resolveConfig({ sampler: 'balanced' }), /samplesPerClass.*with sampler 'balanced'/);
  assert.throws(() => resolveConfig({ samplesPerClass: 4 }), /no value with sampler 'random'/);
  assert.throws(
    () => resolveConfig({ sampler: 'balanced', batchSize: 30, samplesPerClass: 4 }),
    /divisor of batchSize=30/,
  );
  assert.throws(
    () => resolveConfig({ sampler: 'even' as never }),
    /`sampler`. Expected one of random, balanced/,
  );
  // Defaults are not stored: config.json files without the fields read the same.
  const c = resolveConfig({ sampler: 'random', jointProbe: false });
  assert.equal('sampler' in c, false);
  assert.equal('jointProbe' in c, false);
  assert.throws(() => resolveConfig({ method: 'ce', jointProbe: true }), /jointProbe.*ce method/);
});

function trainer(overrides: Partial<TrainConfig>, data: TrainSet) {
  const config = resolveConfig({
    method: 'supcon',
    epochs: 3,
    batchSize: 16,
    lr: 0.2,
    seed: 5,
    ...overrides,
  });
  const encoder = mlpEncoder({ inputDim: 16, hidden: [12, 8], seed: config.seed });
  const head = projectionHead({ inputDim: 8, outputDim: 6, seed: config.seed });
  return new Trainer({ config, encoder, head, data, classes: 4 });
}

function weights(t: Trainer): Float32Array[] {
  return [...t.encoder.variables(), ...t.head.variables()].map((p) => p.variable.dataSync() as Float32Array);
}

function release(t: Trainer): void {
  t.dispose();
  tf.dispose([...t.encoder.variables(), ...t.head.variables()].map((p) => p.variable));
}

test('trainer with the balanced sampler: batches as the sampler says; a resumed run equals an uninterrupted one', () => {
  const data = dataset(64, (i) => i % 4);
  const settings = { sampler: 'balanced', samplesPerClass: 4 } as const;
  const whole = trainer(settings, data);
  const losses = [...whole.steps()].map((r) => r.loss);
  const first = trainer(settings, data);
  for (let i = 0; i < 5; i++) first.step();
  const second = trainer(settings, data);
  second.restore(first.state());
  const rest = [...second.steps()].map((r) => r.loss);
  assert.deepEqual(rest, losses.slice(5));
  assert.deepEqual(weights(second), weights(whole));
  assert.throws(
    () =>
      trainer(
        { sampler: 'balanced', samplesPerClass: 8, batchSize: 32 },
        dataset(64, (i) => (i < 60 ? i % 3 : 3)),
      ),
    /samplesPerClass.*at most 4/,
  );
  for (const t of [whole, first, second]) release(t);
  const one = { rank: 0, size: 1, allGather: (x: Float32Array) => x, allReduceSum: (x: Float32Array) => x };
  const encoder = mlpEncoder({ inputDim: 16, hidden: [8], seed: 0 });
  const head = projectionHead({ inputDim: 8, outputDim: 6, seed: 0 });
  assert.throws(
    () =>
      new DataParallelTrainer({
        config: resolveConfig({ batchSize: 16, jointProbe: true }),
        encoder,
        head,
        data,
        collectives: one,
      }),
    /`jointProbe`. Expected false for this trainer/,
  );
});

test('joint probe: the encoder gradient and weights are exactly those without it', () => {
  const data = dataset(64, (i) => i % 4);
  for (const extra of [{}, { chunkRows: 8 }] as Partial<TrainConfig>[]) {
    const plain = trainer(extra, data);
    const joint = trainer({ ...extra, jointProbe: true }, data);
    // One step from the same weights: equal updates mean equal gradients (the optimiser is the same).
    const before = weights(plain);
    plain.step();
    const r = joint.step();
    assert.ok(r.probeAccuracy !== undefined && r.probeAccuracy >= 0 && r.probeAccuracy <= 1);
    const a = weights(plain);
    const b = weights(joint);
    for (let k = 0; k < a.length; k++) {
      assert.notDeepEqual(a[k], before[k], 'the step moved the weights');
      for (let j = 0; j < a[k]!.length; j++) assert.ok(Math.abs(a[k]![j]! - b[k]![j]!) <= 1e-6);
    }
    for (const _ of plain.steps());
    const epochs: number[] = [];
    for (const _ of joint.steps({ afterEpoch: (e) => epochs.push(e.probeAccuracy ?? Number.NaN) }));
    assert.deepEqual(weights(plain), weights(joint));
    assert.equal(epochs.length, 3);
    assert.ok(epochs.every((x) => x >= 0 && x <= 1));
    release(plain);
    release(joint);
  }
});

test('joint probe: it learns, its state resumes exactly, tensors do not leak, ce and data-parallel refuse it', () => {
  const data = dataset(64, (i) => i % 4);
  const config = { jointProbe: true, epochs: 6 } as const;
  const whole = trainer(config, data);
  const records = [...whole.steps()];
  const last = records.at(-1)!.probeAccuracy!;
  assert.ok(last > 0.4, `probe top-1 ${last}, chance 0.25`);
  const first = trainer(config, data);
  for (let i = 0; i < 7; i++) first.step();
  const second = trainer(config, data);
  second.restore(first.state());
  const live = tf.memory().numTensors;
  const rest = [...second.steps()];
  assert.ok(tf.memory().numTensors <= live + 2, `${live} → ${tf.memory().numTensors}`);
  assert.deepEqual(
    rest.map((r) => r.probeAccuracy),
    records.slice(7).map((r) => r.probeAccuracy),
  );
  const p = second.jointProbe!.linearProbe();
  const q = whole.jointProbe!.linearProbe();
  assert.deepEqual(p.weights, q.weights);
  assert.deepEqual(p.mean, q.mean);
  assert.equal(p.dim, 8);
  assert.equal(p.classes, 4);
  for (const t of [whole, first, second]) release(t);
  const one = { rank: 0, size: 1, allGather: (x: Float32Array) => x, allReduceSum: (x: Float32Array) => x };
  const encoder = mlpEncoder({ inputDim: 16, hidden: [8], seed: 0 });
  const head = projectionHead({ inputDim: 8, outputDim: 6, seed: 0 });
  assert.throws(
    () =>
      new DataParallelTrainer({
        config: resolveConfig({ batchSize: 16, jointProbe: true }),
        encoder,
        head,
        data,
        collectives: one,
      }),
    /`jointProbe`. Expected false for this trainer/,
  );
});
