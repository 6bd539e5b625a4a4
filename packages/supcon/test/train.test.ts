/**
 * The trainer on small synthetic data: every method's loss falls, the same seed gives the same
 * metrics, the live tensor count stays flat, resuming from a state equals an uninterrupted run,
 * and bad configs are rejected naming the field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  linearClassifier,
  type Method,
  mlpEncoder,
  projectionHead,
  Random,
  resolveConfig,
  smallResNet,
  type TrainConfig,
  Trainer,
} from 'supcon';
import { quadrants } from './helpers.js';

/** Two noisy views per image (random brightness and pixel noise), seeded per sample and epoch. */
function noisyViews(
  images: Uint8Array,
  count: number,
  o: { views: number; seed: number; epoch: number; indices: ArrayLike<number> },
) {
  const out = new Float32Array(count * o.views * 64);
  for (let i = 0; i < count; i++) {
    const r = new Random((o.seed * 7919 + o.epoch * 104729 + o.indices[i]!) >>> 0);
    for (let v = 0; v < o.views; v++) {
      const gain = 0.8 + 0.4 * r.next();
      for (let j = 0; j < 64; j++)
        out[(i * o.views + v) * 64 + j] = (images[i * 64 + j]! / 255) * gain + 0.1 * r.next();
    }
  }
  return out;
}

function makeTrainer(method: Method, overrides: Partial<TrainConfig> = {}, data = quadrants(128, 1)) {
  const config = resolveConfig({
    method,
    epochs: 4,
    batchSize: 32,
    lr: method === 'ce' ? 0.1 : 0.2,
    warmupEpochs: 0.5,
    seed: 3,
    ...overrides,
  });
  const encoder = mlpEncoder({ inputDim: 64, hidden: [32, 16], seed: config.seed });
  const head =
    method === 'ce'
      ? linearClassifier({ inputDim: 16, classes: 4, seed: config.seed })
      : projectionHead({ inputDim: 16, outputDim: 8, seed: config.seed });
  return new Trainer({ config, encoder, head, data, makeViews: noisyViews });
}

function disposeAll(t: Trainer): void {
  t.dispose();
  tf.dispose([...t.encoder.variables(), ...t.head.variables()].map((p) => p.variable));
}

for (const method of ['supcon', 'simclr', 'ce'] as const) {
  test(`${method}: the training loss falls`, () => {
    const trainer = makeTrainer(method);
    const epochs: number[] = [];
    trainer.run({ afterEpoch: (r) => epochs.push(r.loss) });
    assert.equal(epochs.length, 4);
    assert.ok(epochs.every(Number.isFinite));
    assert.ok(epochs[3]! < 0.9 * epochs[0]!, `${method} epoch losses ${epochs.map((l) => l.toFixed(3))}`);
    disposeAll(trainer);
  });
}

test('the same seed gives the same metrics; another seed does not', () => {
  const losses = (seed: number) => {
    const t = makeTrainer('supcon', { epochs: 1, seed });
    const out: number[] = [];
    t.run({ afterStep: (r) => out.push(r.loss) });
    disposeAll(t);
    return out;
  };
  const a = losses(5);
  assert.deepEqual(losses(5), a);
  assert.notDeepEqual(losses(6), a);
});

test('steps() is the loop of run() as a generator: one record per step, the same losses, stop ends it', () => {
  const viaRun: number[] = [];
  const a = makeTrainer('supcon', { epochs: 2 });
  a.run({ afterStep: (r) => viaRun.push(r.loss) });
  disposeAll(a);
  const b = makeTrainer('supcon', { epochs: 2 });
  const epochs: number[] = [];
  const yielded = [...b.steps({ afterEpoch: (r) => epochs.push(r.epoch) })].map((r) => r.loss);
  assert.deepEqual(yielded, viaRun);
  assert.deepEqual(epochs, [0, 1]);
  disposeAll(b);
  const c = makeTrainer('supcon', { epochs: 2 });
  const seen = [...c.steps({ stop: () => c.position.iteration === 3 })];
  assert.equal(seen.length, 3);
  assert.equal(c.position.iteration, 3);
  disposeAll(c);
});

test('the live tensor count stays flat across steps (all methods)', () => {
  for (const method of ['supcon', 'simclr', 'ce'] as const) {
    const t = makeTrainer(method, { optimizer: { kind: 'lars', momentum: 0.9, weightDecay: 1e-4 } });
    t.step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) t.step();
    assert.equal(tf.memory().numTensors, before, `${method} leaked tensors`);
    disposeAll(t);
  }
});

test('resuming from a saved state equals an uninterrupted run', () => {
  const full = makeTrainer('supcon', { optimizer: { kind: 'adam', weightDecay: 1e-4 } });
  const fullLosses: number[] = [];
  full.run({ afterStep: (r) => fullLosses.push(r.loss) });
  const fullState = full.state();
  disposeAll(full);

  const first = makeTrainer('supcon', { optimizer: { kind: 'adam', weightDecay: 1e-4 } });
  const losses: number[] = [];
  first.run({ afterStep: (r) => losses.push(r.loss), stop: () => first.position.iteration === 6 });
  const saved = first.state();
  disposeAll(first);
  // A fresh process would build fresh (differently initialised) models and restore the state.
  const second = makeTrainer('supcon', { optimizer: { kind: 'adam', weightDecay: 1e-4 }, seed: 3 });
  second.restore(saved);
  assert.equal(second.position.iteration, 6);
  second.run({ afterStep: (r) => losses.push(r.loss) });
  assert.deepEqual(losses, fullLosses);
  const resumed = second.state();
  for (const [name, v] of Object.entries(fullState.variables)) {
    assert.deepEqual(resumed.variables[name]!.values, v.values, name);
  }
  disposeAll(second);
});

test('the small ResNet trains with SupCon (loss falls) and yields 4·width features', () => {
  const data = quadrants(32, 2);
  const config = resolveConfig({ method: 'supcon', epochs: 3, batchSize: 16, lr: 0.1, seed: 1 });
  const encoder = smallResNet({ channels: 1, width: 4, seed: 1 });
  assert.equal(encoder.outputDim, 16);
  const head = projectionHead({ inputDim: 16, outputDim: 8 });
  const trainer = new Trainer({ config, encoder, head, data, makeViews: noisyViews });
  const epochs: number[] = [];
  trainer.run({ afterEpoch: (r) => epochs.push(r.loss) });
  assert.ok(epochs[2]! < epochs[0]!, `epoch losses ${epochs}`);
  disposeAll(trainer);
});

test('bad configs are rejected naming the field', () => {
  assert.throws(() => resolveConfig({ method: 'byol' as Method }), /argument `method`.*"byol"/);
  assert.throws(() => resolveConfig({ epochs: 0 }), /argument `epochs`/);
  assert.throws(() => resolveConfig({ batchSize: 2.5 }), /argument `batchSize`/);
  assert.throws(() => resolveConfig({ temperature: 0 }), /argument `temperature`/);
  assert.throws(() => resolveConfig({ method: 'simclr', views: 1 }), /argument `views`/);
  assert.throws(() => resolveConfig({ epochs: 2, warmupEpochs: 2 }), /argument `warmupEpochs`/);
  assert.throws(() => resolveConfig({ optimizer: { kind: 'adagrad' as 'sgd' } }), /argument `optimizer`/);
});
