/**
 * The trainer's memory queue (config.queueSize) and gradient caching (config.chunkRows): the loss
 * falls with a queue, the queue fills and survives state/restore exactly, chunked training equals
 * unchunked training for an encoder without batch statistics, and the config is validated.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { mlpEncoder, projectionHead, resolveConfig, type TrainConfig, Trainer } from 'supcon';
import { plainEncoder, quadrants } from './helpers.js';

function trainer(overrides: Partial<TrainConfig>, plain = false): Trainer {
  const config = resolveConfig({
    method: 'supcon',
    epochs: 3,
    batchSize: 16,
    lr: 0.2,
    seed: 2,
    ...overrides,
  });
  const encoder = plain ? plainEncoder(7) : mlpEncoder({ inputDim: 64, hidden: [32, 16], seed: 2 });
  const head = projectionHead({ inputDim: 16, outputDim: 8, seed: 3 });
  return new Trainer({ config, encoder, head, data: quadrants(96, 1) });
}

function dispose(t: Trainer): void {
  t.dispose();
  tf.dispose([...t.encoder.variables(), ...t.head.variables()].map((p) => p.variable));
}

test('with a memory queue the loss falls and the queue fills to its capacity', () => {
  const t = trainer({ queueSize: 40, epochs: 6 });
  const epochs: number[] = [];
  const sizes: number[] = [];
  t.run({ afterEpoch: (r) => epochs.push(r.loss), afterStep: () => sizes.push(t.queue!.size) });
  assert.deepEqual(sizes.slice(0, 3), [32, 40, 40]); // 16 samples × 2 views per step
  assert.ok(epochs[5]! < 0.9 * epochs[0]!, `epoch losses ${epochs}`);
  const snap = t.queue!.snapshot();
  assert.ok(
    Array.from(snap.labels).every((y) => y >= 0 && y < 4),
    'supcon enqueues labelled rows',
  );
  snap.features.dispose();
  dispose(t);
});

test('the queue is part of the state: a restored run continues exactly', () => {
  const full = trainer({ queueSize: 24 });
  const losses: number[] = [];
  full.run({ afterStep: (r) => losses.push(r.loss) });
  const half = trainer({ queueSize: 24 });
  for (let i = 0; i < 7; i++) half.step();
  const state = half.state();
  dispose(half);
  const resumed = trainer({ queueSize: 24 });
  resumed.restore(state);
  const rest: number[] = [];
  resumed.run({ afterStep: (r) => rest.push(r.loss) });
  assert.deepEqual(rest, losses.slice(7));
  dispose(full);
  dispose(resumed);
});

test('gradient caching trains like one batch when the encoder has no batch statistics', () => {
  const run = (chunkRows: number) => {
    const t = trainer({ chunkRows }, true);
    const out: number[] = [];
    t.run({ afterStep: (r) => out.push(r.loss) });
    const weights = t.encoder.parameters()[0]!.variable.dataSync().slice();
    dispose(t);
    return { out, weights };
  };
  const whole = run(0);
  for (const chunk of [5, 12]) {
    const chunked = run(chunk);
    for (const [i, l] of chunked.out.entries())
      assert.ok(Math.abs(l - whole.out[i]!) < 1e-4 * Math.abs(whole.out[i]!), `chunk ${chunk}, step ${i}`);
    for (const [i, w] of chunked.weights.entries())
      assert.ok(Math.abs(w - whole.weights[i]!) < 1e-4, `chunk ${chunk}, weight ${i}`);
  }
});

test('gradient caching with batch norm and a queue together: the loss falls', () => {
  const t = trainer({ chunkRows: 8, queueSize: 32 });
  const epochs: number[] = [];
  t.run({ afterEpoch: (r) => epochs.push(r.loss) });
  assert.ok(epochs[2]! < 0.9 * epochs[0]!, `epoch losses ${epochs}`);
  dispose(t);
});

test('queueSize and chunkRows are validated', () => {
  assert.throws(() => resolveConfig({ queueSize: -1 }), /`queueSize`.*integer >= 0/);
  assert.throws(() => resolveConfig({ method: 'ce', queueSize: 8 }), /`queueSize`.*ce/);
  assert.throws(() => resolveConfig({ chunkRows: 1.5 }), /`chunkRows`.*integer >= 0.*1\.5/);
});
