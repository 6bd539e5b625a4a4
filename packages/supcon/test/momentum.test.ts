/**
 * MomentumEncoder: the EMA rule against a float64 recomputation, `apply` runs the key weights and
 * leaves the online networks untouched (weights and BatchNorm statistics), the key keeps its own
 * BatchNorm statistics, and the checkpoint entries round-trip.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { MomentumEncoder, mlpEncoder, projectionHead, resolveConfig, Trainer, type TrainSet } from 'supcon';
import { plainEncoder, quadrants, rng } from './helpers.js';

function nets() {
  const encoder = mlpEncoder({ inputDim: 12, hidden: [10, 6], seed: 4 }); // with BatchNorm
  const head = projectionHead({ inputDim: 6, outputDim: 5, seed: 5 });
  return { encoder, head };
}

function input(seed: number, rows: number): tf.Tensor2D {
  const r = rng(seed);
  return tf.tensor2d(
    Float32Array.from({ length: rows * 12 }, () => r() * 2 - 1),
    [rows, 12],
  );
}

/** Moves every trainable variable of `n` by seeded noise (a stand-in for an optimiser step). */
function perturb(n: ReturnType<typeof nets>, seed: number): void {
  const r = rng(seed);
  for (const p of [...n.encoder.parameters(), ...n.head.parameters()]) {
    const v = p.variable.dataSync();
    p.variable.assign(
      tf.tensor(
        Float32Array.from(v, (x) => x + (r() - 0.5) * 0.2),
        p.variable.shape,
      ),
    );
  }
}

const snapshot = (ps: { name: string; variable: tf.Variable }[]) =>
  ps.map((p) => Array.from(p.variable.dataSync()));

test('update: θk ← m·θk + (1 − m)·θq over two steps, equal to a float64 recomputation', () => {
  const n = nets();
  const m = 0.9;
  const key = new MomentumEncoder(n, m);
  const first = n.encoder.parameters()[0]!;
  const name = `encoder/${first.name}`;
  const k0 = Array.from(first.variable.dataSync());
  perturb(n, 1);
  const q1 = Array.from(first.variable.dataSync());
  key.update();
  perturb(n, 2);
  const q2 = Array.from(first.variable.dataSync());
  key.update();
  const got = key.value(name).dataSync();
  for (let i = 0; i < k0.length; i++) {
    const want = m * (m * k0[i]! + (1 - m) * q1[i]!) + (1 - m) * q2[i]!;
    assert.ok(Math.abs(got[i]! - want) < 1e-6, `element ${i}: ${got[i]} vs ${want}`);
  }
  // and not the online value (the test would pass trivially if update copied θq)
  assert.ok(Math.abs(got[0]! - q2[0]!) > 1e-4);
  key.dispose();
});

test('momentum 0 makes the key the online network after one update; bad momenta are refused', () => {
  const n = nets();
  const key = new MomentumEncoder(n, 0);
  perturb(n, 3);
  key.update();
  const p = n.head.parameters()[0]!;
  assert.deepEqual(Array.from(key.value(`head/${p.name}`).dataSync()), Array.from(p.variable.dataSync()));
  key.dispose();
  assert.throws(() => new MomentumEncoder(n, 1), /momentum.*\[0, 1\)/);
  assert.throws(() => new MomentumEncoder(n, Number.NaN), /momentum/);
  assert.throws(() => new MomentumEncoder({}, 0.9), /networks/);
});

test('apply runs the key weights and leaves the online weights and BatchNorm statistics as they were', () => {
  const n = nets();
  const key = new MomentumEncoder(n, 0.5);
  perturb(n, 4);
  key.update(); // key = (initial + perturbed) / 2: differs from both
  const onlineBefore = snapshot([...n.encoder.variables(), ...n.head.variables()]);
  // a twin network holding the key's values (weights and statistics) by hand, before the forward
  const twin = nets();
  for (const [prefix, net] of [
    ['encoder', twin.encoder],
    ['head', twin.head],
  ] as const)
    for (const p of net.variables()) p.variable.assign(key.value(`${prefix}/${p.name}`));
  const x = input(9, 8);
  const keys = key.apply(() => n.head.apply(n.encoder.apply(x, true), true));
  assert.deepEqual(snapshot([...n.encoder.variables(), ...n.head.variables()]), onlineBefore);
  const want = twin.head.apply(twin.encoder.apply(x, true), true);
  const d = tf.max(tf.abs(tf.sub(keys, want))).dataSync()[0]!;
  assert.ok(d < 1e-6, `max difference ${d}`);
  const online = n.head.apply(n.encoder.apply(x, false), false);
  assert.ok(tf.max(tf.abs(tf.sub(keys, online))).dataSync()[0]! > 1e-3, 'the key is not the online network');

  // training-mode forward moved the key's running statistics, not the online ones
  const state = n.encoder.variables().filter((v) => !n.encoder.parameters().some((p) => p.name === v.name));
  assert.ok(state.length > 0, 'the encoder has BatchNorm state');
  const s = state[0]!;
  const keyStat = key.value(`encoder/${s.name}`).dataSync();
  const twinStat = twin.encoder
    .variables()
    .find((v) => v.name === s.name)!
    .variable.dataSync();
  assert.deepEqual(Array.from(keyStat), Array.from(twinStat));
  assert.notDeepEqual(Array.from(keyStat), Array.from(s.variable.dataSync()));
  key.dispose();
});

test('apply restores the online weights when the forward throws', () => {
  const n = nets();
  const key = new MomentumEncoder(n, 0.5);
  perturb(n, 5);
  key.update();
  const before = snapshot(n.encoder.variables());
  assert.throws(
    () =>
      key.apply(() => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.deepEqual(snapshot(n.encoder.variables()), before);
  key.dispose();
});

test('save and restore: the key weights round-trip through trainer-state entries; a missing entry is named', () => {
  const n = nets();
  const key = new MomentumEncoder(n, 0.8);
  perturb(n, 6);
  key.update();
  const entries: Record<string, { shape: number[]; values: Float32Array }> = {};
  key.save(entries);
  const other = new MomentumEncoder(n, 0.8); // starts at today's online values
  other.restore(entries);
  for (const name of Object.keys(entries)) {
    const bare = name.slice('momentum/'.length);
    assert.deepEqual(Array.from(other.value(bare).dataSync()), Array.from(key.value(bare).dataSync()));
  }
  const first = Object.keys(entries)[0]!;
  delete entries[first];
  assert.throws(() => other.restore(entries), new RegExp(first.replace(/[/]/g, '\\/')));
  key.dispose();
  other.dispose();
});

// --- in the trainer: config.queueMomentum -------------------------------------------------------

/** Every image's embedding [n, D] under the given weights (assigned to a twin encoder and head). */
function embedAll(data: TrainSet, weights: Map<string, Float32Array>): Float32Array {
  const encoder = plainEncoder(7);
  const head = projectionHead({ inputDim: 16, outputDim: 8, seed: 3 });
  for (const [prefix, net] of [
    ['encoder', encoder],
    ['head', head],
  ] as const)
    for (const p of net.variables())
      p.variable.assign(tf.tensor(weights.get(`${prefix}/${p.name}`)!, p.variable.shape));
  const x = tf.div(tf.tensor4d(data.images, [data.count, 8, 8, 1], 'float32'), 255);
  return head.apply(encoder.apply(x, true), true).dataSync() as Float32Array;
}

function weightsOf(t: Trainer): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  for (const [prefix, net] of [
    ['encoder', t.encoder],
    ['head', t.head],
  ] as const)
    for (const p of net.variables())
      m.set(`${prefix}/${p.name}`, p.variable.dataSync().slice() as Float32Array);
  return m;
}

/** Largest distance from a queue row to the nearest embedding of its own class. */
function worstMatch(
  rows: Float32Array,
  labels: Int32Array,
  all: Float32Array,
  data: TrainSet,
  d: number,
): number {
  let worst = 0;
  for (let r = 0; r < labels.length; r++) {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < data.count; i++) {
      if (data.labels[i] !== labels[r]) continue;
      let s = 0;
      for (let k = 0; k < d; k++) s += (rows[r * d + k]! - all[i * d + k]!) ** 2;
      best = Math.min(best, Math.sqrt(s));
    }
    worst = Math.max(worst, best);
  }
  return worst;
}

function queueTrainer(queueMomentum?: number): { t: Trainer; data: TrainSet } {
  const data = quadrants(48, 1);
  const config = resolveConfig({
    method: 'supcon',
    epochs: 1,
    batchSize: 16,
    lr: 0.5,
    seed: 2,
    queueSize: 64,
    ...(queueMomentum !== undefined ? { queueMomentum } : {}),
  });
  const t = new Trainer({
    config,
    encoder: plainEncoder(7),
    head: projectionHead({ inputDim: 16, outputDim: 8, seed: 3 }),
    data,
  });
  return { t, data };
}

test("queueMomentum: the queue holds the key encoder's embeddings (m·θ0 + (1 − m)·θ1 after one step), not the online ones", () => {
  const m = 0.5;
  const { t, data } = queueTrainer(m);
  const before = weightsOf(t);
  t.step();
  const after = weightsOf(t);
  const key = new Map(
    [...before].map(([k, v]) => [k, Float32Array.from(v, (x, i) => m * x + (1 - m) * after.get(k)![i]!)]),
  );
  const q = t.queue!.state();
  assert.equal(q.labels.length, 32); // 16 samples × 2 views
  const d = 8;
  assert.ok(worstMatch(q.rows, q.labels, embedAll(data, key), data, d) < 1e-5, 'rows are the key embeddings');
  assert.ok(
    worstMatch(q.rows, q.labels, embedAll(data, before), data, d) > 1e-3,
    'not the pre-step online ones',
  );
  assert.ok(
    worstMatch(q.rows, q.labels, embedAll(data, after), data, d) > 1e-3,
    'not the post-step online ones',
  );
  t.dispose();
});

test('queueMomentum off: the queue holds the online embeddings of the step (as before)', () => {
  const { t, data } = queueTrainer();
  const before = weightsOf(t);
  t.step();
  const q = t.queue!.state();
  assert.ok(worstMatch(q.rows, q.labels, embedAll(data, before), data, 8) < 1e-5);
  assert.equal(t.keyEncoder, undefined);
  t.dispose();
});

test('queueMomentum: a resume from the state continues exactly (key weights in the checkpoint)', () => {
  const a = queueTrainer(0.9);
  a.t.step();
  const state = a.t.state();
  assert.ok(
    Object.keys(state.variables).some((k) => k.startsWith('momentum/encoder/')),
    'key weights saved',
  );
  a.t.step();
  const b = queueTrainer(0.9);
  b.t.restore(state);
  b.t.step();
  assert.deepEqual(Array.from(b.t.queue!.state().rows), Array.from(a.t.queue!.state().rows));
  for (const [k, v] of weightsOf(a.t)) assert.deepEqual(Array.from(weightsOf(b.t).get(k)!), Array.from(v), k);
  a.t.dispose();
  b.t.dispose();
});

test('queueMomentum is refused without a queue, outside (0, 1), and named', () => {
  assert.throws(() => resolveConfig({ queueMomentum: 0.99 }), /queueMomentum.*memory queue/);
  assert.throws(() => resolveConfig({ queueSize: 8, queueMomentum: 1 }), /queueMomentum.*\(0, 1\)/);
  assert.throws(() => resolveConfig({ queueSize: 8, queueMomentum: -0.5 }), /queueMomentum/);
  assert.equal(resolveConfig({ queueSize: 8, queueMomentum: 0 }).queueMomentum, undefined, '0 is off');
});
