/**
 * The fused in-place optimiser kernels (SupconSgdUpdate, SupconLarsUpdate, SupconAdamUpdate) that
 * supcon's SGD, LARS and Adam use on `native`: every step equals the optimisers' tfjs-op path on
 * `cpu` (itself checked against PyTorch in packages/supcon/test/optim.test.ts) within 1e-6
 * relative, parameters and slots, for every option; they also match the PyTorch fixtures, resume
 * from saved state, really run in place, and never overwrite storage that something else holds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { createOptimizer, type Optimizer, type OptimizerConfig, type Parameter } from 'supcon';
import { SupconAdamUpdate, SupconLarsUpdate, SupconSgdUpdate } from 'supcon/kernels';
import { requireNative, values } from './harness.js';

before(requireNative);

interface Case {
  name: string;
  config: OptimizerConfig;
  lrs: number[];
  shapes: Record<string, number[]>;
  params: Record<string, ArrayLike<number>>;
  grads: Record<string, ArrayLike<number>>[];
  /** PyTorch's parameters after each step (fixtures only). */
  expected?: Record<string, number[]>[];
}

function fixtures(kind: 'sgd' | 'adam' | 'lars'): Case[] {
  const url = new URL(`../../../supcon/test/fixtures/optim-${kind}.json`, import.meta.url);
  const file = JSON.parse(readFileSync(url, 'utf8')) as {
    cases: (Omit<Case, 'config'> & { options: Record<string, number | boolean> })[];
  };
  return file.cases.map((c) => ({
    ...c,
    name: `${kind} ${c.name}`,
    // As packages/supcon/test/optim.test.ts: PyTorch decays every parameter.
    config: { kind, excludeBatchNormAndBias: false, momentum: 0, ...c.options } as OptimizerConfig,
  }));
}

/** Larger parameters (past the kernels' parallel threshold) and the options the fixtures lack. */
function generated(name: string, config: OptimizerConfig): Case {
  const shapes = { 'conv/kernel': [3, 3, 64, 80], 'bn/gamma': [80] };
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const lrs = [0.1, 0.05, 0.2, 0.01];
  const params: Case['params'] = {};
  const grads: Case['grads'] = lrs.map(() => ({}));
  let seed = 1;
  for (const [key, shape] of Object.entries(shapes)) {
    params[key] = values(size(shape), seed++);
    for (const g of grads) g[key] = values(size(shape), seed++, -0.5, 0.5);
  }
  return { name: `generated ${name}`, config, lrs, shapes, params, grads };
}

const cases: Case[] = [
  ...fixtures('sgd'),
  ...fixtures('adam'),
  ...fixtures('lars'),
  generated('sgd momentum+dampening+wd, BN excluded', {
    kind: 'sgd',
    momentum: 0.9,
    dampening: 0.1,
    weightDecay: 1e-3,
  }),
  generated('sgd nesterov+wd', { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 }),
  generated('sgd plain+wd', { kind: 'sgd', momentum: 0, weightDecay: 1e-2 }),
  generated('adam L2', { kind: 'adam', weightDecay: 1e-2 }),
  generated('adamw', { kind: 'adam', weightDecay: 0.1, decoupled: true, beta1: 0.8 }),
  generated('lars nesterov+wd', { kind: 'lars', momentum: 0.9, weightDecay: 1e-4, nesterov: true }),
  generated('lars', { kind: 'lars', momentum: 0.9, trustCoefficient: 0.02 }),
];

function makeParams(c: Case): Parameter[] {
  return Object.entries(c.shapes).map(([name, shape]) => ({
    name,
    variable: tf.variable(
      tf.tensor(Float32Array.from(c.params[name]!), shape),
      true,
      `${name}-${Math.random()}`,
    ),
  }));
}

function runSteps(c: Case, params: Parameter[], opt: Optimizer, from: number, to: number): void {
  for (let s = from; s < to; s++) {
    const grads = params.map((p) => tf.tensor(Float32Array.from(c.grads[s]![p.name]!), p.variable.shape));
    opt.step(params, grads, c.lrs[s]!);
    tf.dispose(grads);
  }
}

/** Parameters and slots after each step. */
async function trajectory(backend: string, c: Case): Promise<Record<string, Float32Array>[]> {
  await tf.setBackend(backend);
  const params = makeParams(c);
  const opt = createOptimizer(c.config);
  const out: Record<string, Float32Array>[] = [];
  for (let s = 0; s < c.lrs.length; s++) {
    runSteps(c, params, opt, s, s + 1);
    const snapshot: Record<string, Float32Array> = {};
    for (const p of params) snapshot[p.name] = Float32Array.from(p.variable.dataSync());
    for (const [key, slot] of Object.entries(opt.getState().slots)) snapshot[key] = slot.values;
    out.push(snapshot);
  }
  opt.dispose();
  tf.dispose(params.map((p) => p.variable));
  return out;
}

function assertRelative(actual: Float32Array, expected: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i]!;
    assert.ok(Math.abs(actual[i]! - e) <= rel * Math.abs(e) + 1e-9, `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

for (const c of cases) {
  test(`${c.name}: native fused update equals the tfjs-op path on cpu at every step`, async () => {
    const jsPath = await trajectory('cpu', c);
    const fused = await trajectory('native', c);
    for (const [s, expected] of jsPath.entries()) {
      assert.deepEqual(Object.keys(fused[s]!).sort(), Object.keys(expected).sort());
      for (const [key, value] of Object.entries(expected))
        assertRelative(fused[s]![key]!, value, 1e-6, `step ${s} ${key}`);
      for (const [name, torch] of Object.entries(c.expected?.[s] ?? {})) {
        const v = fused[s]![name]!;
        for (let i = 0; i < torch.length; i++) {
          assert.ok(
            Math.abs(v[i]! - torch[i]!) <= 1e-5 + 1e-4 * Math.abs(torch[i]!),
            `PyTorch step ${s} ${name}[${i}]`,
          );
        }
      }
    }
  });
}

test('the optimisers run the fused kernel on native, one per parameter, and nothing else', async () => {
  await tf.setBackend('native');
  for (const [kind, kernel] of [
    ['sgd', SupconSgdUpdate],
    ['lars', SupconLarsUpdate],
    ['adam', SupconAdamUpdate],
  ] as const) {
    const c = generated(kind, { kind, momentum: 0.9, weightDecay: 1e-4 });
    const params = makeParams(c);
    const opt = createOptimizer(c.config);
    runSteps(c, params, opt, 0, 2);
    const grads = params.map((p) => tf.onesLike(p.variable));
    const profile = await tf.profile(() => opt.step(params, grads, 0.1));
    assert.deepEqual(
      profile.kernels.map((k) => k.name),
      params.map(() => kernel),
      `${kind} ran other kernels`,
    );
    tf.dispose(grads);
    opt.dispose();
    tf.dispose(params.map((p) => p.variable));
  }
});

test('after the first step the update is in place: parameters and slots keep their storage', async () => {
  await tf.setBackend('native');
  const c = generated('sgd', { kind: 'sgd', momentum: 0.9 });
  const params = makeParams(c);
  const opt = createOptimizer(c.config);
  runSteps(c, params, opt, 0, 1);
  const backend = tf.backend() as unknown as { data: { get(id: object): { values: unknown } } };
  const storage = params.map((p) => backend.data.get(p.variable.dataId).values);
  const before = tf.memory().numTensors;
  runSteps(c, params, opt, 1, 3);
  for (const [i, p] of params.entries()) assert.equal(backend.data.get(p.variable.dataId).values, storage[i]);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  opt.dispose();
  tf.dispose(params.map((p) => p.variable));
});

test('storage handed out by dataSync or viewed by a live slice is never overwritten', async () => {
  await tf.setBackend('native');
  const c = generated('sgd', { kind: 'sgd', momentum: 0.9 });
  const params = makeParams(c);
  const opt = createOptimizer(c.config);
  runSteps(c, params, opt, 0, 2); // storage is now the kernel's own
  const held = params[0]!.variable.dataSync();
  const heldCopy = Float32Array.from(held);
  const slice = tf.slice(params[1]!.variable, [0], [10]);
  const sliceCopy = Float32Array.from(slice.dataSync());
  runSteps(c, params, opt, 2, 3);
  assert.deepEqual(held, heldCopy, 'the array dataSync returned was overwritten');
  assert.deepEqual(slice.dataSync(), sliceCopy, 'a live slice of a parameter changed');
  assert.notDeepEqual(params[0]!.variable.dataSync(), heldCopy, 'the parameter did not move');
  slice.dispose();
  opt.dispose();
  tf.dispose(params.map((p) => p.variable));
});

test('state saved on native after 2 steps and restored continues identically', async () => {
  await tf.setBackend('native');
  for (const kind of ['sgd', 'lars', 'adam'] as const) {
    const c = generated(kind, { kind, momentum: 0.9, weightDecay: 1e-3 });
    const full = await trajectory('native', c);
    const params = makeParams(c);
    const first = createOptimizer(c.config);
    runSteps(c, params, first, 0, 2);
    const state = first.getState();
    const saved = params.map((p) => Float32Array.from(p.variable.dataSync()));
    first.dispose();
    tf.dispose(params.map((p) => p.variable));
    const restored = makeParams(c);
    for (const [i, p] of restored.entries()) p.variable.assign(tf.tensor(saved[i]!, p.variable.shape));
    const second = createOptimizer(c.config);
    second.setState(state);
    runSteps(c, restored, second, 2, c.lrs.length);
    for (const p of restored)
      assertRelative(
        Float32Array.from(p.variable.dataSync()),
        full.at(-1)![p.name]!,
        0,
        `${kind} resumed ${p.name}`,
      );
    second.dispose();
    tf.dispose(restored.map((p) => p.variable));
  }
});
