/**
 * Every optimiser against PyTorch: torch.optim.SGD / Adam / AdamW, and LARS written from its formula,
 * six steps with changing learning rates (fixtures: /usr/bin/python3 reference/make_optim_fixtures.py).
 * Also: checkpoint state round-trips exactly, and no tensors leak per step.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { createOptimizer, type OptimizerConfig, type Parameter } from 'supcon';

interface Case {
  name: string;
  kind: 'sgd' | 'adam' | 'lars';
  options: Record<string, number | boolean>;
  lrs: number[];
  shapes: Record<string, number[]>;
  params: Record<string, number[]>;
  grads: Record<string, number[]>[];
  expected: Record<string, number[]>[];
}

function load(name: string): Case[] {
  const url = new URL(`../test/fixtures/optim-${name}.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { cases: Case[] }).cases;
}

function makeParams(c: Case): Parameter[] {
  return Object.entries(c.shapes).map(([name, shape]) => ({
    name,
    variable: tf.variable(tf.tensor(c.params[name]!, shape), true, `${c.name}-${name}-${Math.random()}`),
  }));
}

function configFor(c: Case): OptimizerConfig {
  // PyTorch's SGD and Adam decay every parameter; LARS always excludes rank <= 1 parameters.
  return { kind: c.kind, excludeBatchNormAndBias: false, momentum: 0, ...c.options } as OptimizerConfig;
}

function runSteps(
  c: Case,
  params: Parameter[],
  from: number,
  to: number,
  opt = createOptimizer(configFor(c)),
) {
  for (let s = from; s < to; s++) {
    const grads = params.map((p) => tf.tensor(c.grads[s]![p.name]!, p.variable.shape));
    opt.step(params, grads, c.lrs[s]!);
    tf.dispose(grads);
  }
  return opt;
}

function assertClose(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const tol = 1e-5 + 1e-4 * Math.abs(expected[i]!);
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= tol,
      `${what}[${i}]: ${actual[i]} vs PyTorch ${expected[i]}`,
    );
  }
}

for (const kind of ['sgd', 'adam', 'lars'] as const) {
  for (const c of load(kind)) {
    test(`${kind} ${c.name} matches PyTorch at every step`, () => {
      const params = makeParams(c);
      const opt = createOptimizer(configFor(c));
      for (let s = 0; s < c.lrs.length; s++) {
        runSteps(c, params, s, s + 1, opt);
        for (const p of params)
          assertClose(p.variable.dataSync(), c.expected[s]![p.name]!, `step ${s} ${p.name}`);
      }
      opt.dispose();
      tf.dispose(params.map((p) => p.variable));
    });

    test(`${kind} ${c.name}: state saved after 3 steps and restored continues identically`, () => {
      const params = makeParams(c);
      const first = runSteps(c, params, 0, 3);
      const state = first.getState();
      const values = params.map((p) => p.variable.dataSync().slice());
      first.dispose();
      // A fresh optimiser and fresh variables, as after a restart.
      const restored = makeParams(c);
      for (const [i, p] of restored.entries()) p.variable.assign(tf.tensor(values[i]!, p.variable.shape));
      const second = createOptimizer(configFor(c));
      second.setState(JSON.parse(JSON.stringify({ ...state, slots: serial(state.slots) }), revive));
      runSteps(c, restored, 3, 6, second);
      for (const p of restored)
        assertClose(p.variable.dataSync(), c.expected[5]![p.name]!, `resumed ${p.name}`);
      second.dispose();
      tf.dispose([...params, ...restored].map((p) => p.variable));
    });
  }
}

function serial(slots: Record<string, { shape: number[]; values: Float32Array }>) {
  return Object.fromEntries(
    Object.entries(slots).map(([k, s]) => [k, { shape: s.shape, values: Array.from(s.values) }]),
  );
}
function revive(key: string, value: unknown): unknown {
  return key === 'values' && Array.isArray(value) ? Float32Array.from(value as number[]) : value;
}

test('optimisers keep the live tensor count flat across steps', () => {
  const c = load('adam')[0]!;
  for (const kind of ['sgd', 'adam', 'lars'] as const) {
    const params = makeParams(c);
    const opt = createOptimizer({ kind, momentum: 0.9, weightDecay: 0.01 });
    runSteps(c, params, 0, 2, opt);
    const before = tf.memory().numTensors;
    runSteps(c, params, 2, 6, opt);
    assert.equal(tf.memory().numTensors, before, `${kind} leaked tensors`);
    opt.dispose();
    tf.dispose(params.map((p) => p.variable));
  }
});

test('LARS leaves BatchNorm and bias parameters out of decay and adaptation', () => {
  // With a huge weight decay, a rank-1 parameter must move exactly like momentum SGD (no decay).
  const bias = { name: 'b', variable: tf.variable(tf.tensor1d([1, 2])) };
  const kernel = { name: 'k', variable: tf.variable(tf.tensor2d([[1, 2]])) };
  const opt = createOptimizer({ kind: 'lars', momentum: 0, weightDecay: 100, trustCoefficient: 0.001 });
  opt.step([bias, kernel], [tf.tensor1d([0.5, 0.5]), tf.tensor2d([[0, 0]])], 0.1);
  assertClose(bias.variable.dataSync(), [0.95, 1.95], 'bias');
  // kernel: g = 100·p, trust = 0.001·|p|/|g| = 1e-5, step = 0.1·1e-5·100·p = 1e-4·p.
  assertClose(kernel.variable.dataSync(), [1 - 1e-4, 2 - 2e-4], 'kernel');
});

test('optimisers reject bad options with one clear sentence', () => {
  assert.throws(
    () => createOptimizer({ kind: 'sgd', momentum: 1.5 }),
    /argument `momentum`.*Received: momentum=1.5/,
  );
  assert.throws(() => createOptimizer({ kind: 'sgd', momentum: 0, nesterov: true }), /`nesterov`/);
  assert.throws(() => createOptimizer({ kind: 'adam', weightDecay: -1 }), /`weightDecay`/);
  assert.throws(() => createOptimizer({ kind: 'rmsprop' as 'sgd' }), /`optimizer`.*"rmsprop"/);
  const opt = createOptimizer({ kind: 'sgd' });
  assert.throws(() => opt.step([], [tf.scalar(1)], 0.1), /`grads`/);
  assert.throws(() => opt.step([], [], Number.NaN), /`lr`/);
});

test('setState holds exactly one tensor per slot (no temporary left behind)', () => {
  const c = load('sgd')[1]!;
  const params = makeParams(c);
  const first = runSteps(c, params, 0, 2);
  const state = first.getState();
  first.dispose();
  const before = tf.memory().numTensors;
  const second = createOptimizer(configFor(c));
  second.setState(state);
  assert.equal(tf.memory().numTensors - before, Object.keys(state.slots).length);
  second.dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(params.map((p) => p.variable));
});
