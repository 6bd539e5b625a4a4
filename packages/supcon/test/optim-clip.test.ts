/**
 * Gradient clipping by global norm (optim/clip.ts) against torch.nn.utils.clip_grad_norm_
 * (fixtures/clip-grad-norm.json, /usr/bin/python3 reference/make_clip_fixture.py): the norm, the
 * clipped gradients, the no-op below the threshold (the very same tensors handed on), three AdamW
 * steps with clipping through createOptimizer, checkpoint state, no leaked tensors, bad values.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  ClippedOptimizer,
  createOptimizer,
  globalGradNorm,
  type Optimizer,
  type OptimizerState,
  type Parameter,
} from 'supcon';
import { assertClose } from './helpers.js';

const fixture = JSON.parse(
  readFileSync(new URL('../test/fixtures/clip-grad-norm.json', import.meta.url), 'utf8'),
) as {
  shapes: Record<string, number[]>;
  grads: Record<string, number[]>;
  cases: { name: string; maxNorm: number; norm: number; clipped: Record<string, number[]> }[];
  adamw: {
    lr: number;
    maxNorm: number;
    weightDecay: number;
    params: Record<string, number[]>;
    grads: Record<string, number[]>[];
    norms: number[];
    expected: Record<string, number[]>[];
  };
};
const names = Object.keys(fixture.shapes);

/** The PyTorch fixtures' tolerance: |a − b| ≤ 1e-6 + 1e-5·|b|. */
const close = (actual: ArrayLike<number>, expected: readonly number[], what: string) =>
  assertClose(actual, expected, 1e-5, 1e-6, what);

/** An optimiser that only records the gradients it is handed (their values and the tensors). */
class Recorder implements Optimizer {
  readonly kind = 'recorder';
  seen: { tensors: tf.Tensor[]; values: Float32Array[] } | undefined;
  step(_params: readonly Parameter[], grads: readonly tf.Tensor[]): void {
    this.seen = { tensors: [...grads], values: grads.map((g) => g.dataSync() as Float32Array) };
  }
  getState(): OptimizerState {
    return { kind: this.kind, step: 0, slots: {} };
  }
  setState(): void {}
  dispose(): void {}
}

const params = (values: Record<string, number[]>): Parameter[] =>
  names.map((name) => ({ name, variable: tf.variable(tf.tensor(values[name]!, fixture.shapes[name]!)) }));
const gradsOf = (values: Record<string, number[]>) =>
  names.map((name) => tf.tensor(values[name]!, fixture.shapes[name]!));

test('globalGradNorm is the norm clip_grad_norm_ returns', () => {
  const grads = gradsOf(fixture.grads);
  for (const c of fixture.cases) close([globalGradNorm(grads)], [c.norm], `norm (${c.name})`);
  assert.equal(globalGradNorm([]), 0);
  tf.dispose(grads);
});

for (const c of fixture.cases) {
  test(`clipping at max norm ${c.maxNorm.toFixed(4)} (${c.name}) hands on the gradients clip_grad_norm_ leaves`, () => {
    const ps = params(fixture.grads);
    const grads = gradsOf(fixture.grads);
    const recorder = new Recorder();
    const clipped = new ClippedOptimizer(recorder, c.maxNorm);
    clipped.step(ps, grads, 0.1);
    close([clipped.lastNorm!], [c.norm], 'lastNorm');
    for (const [i, name] of names.entries()) close(recorder.seen!.values[i]!, c.clipped[name]!, name);
    const scaled = c.maxNorm / (c.norm + 1e-6) < 1;
    assert.equal(scaled, c.name === 'clipped', 'the fixture covers one clipped and two no-op cases');
    // Below the threshold the wrapped optimiser gets the caller's own tensors, unscaled.
    for (const [i, g] of grads.entries()) assert.equal(recorder.seen!.tensors[i] === g, !scaled, names[i]);
    // Above it, the scaled copies are freed after the update.
    if (scaled) assert.ok(recorder.seen!.tensors.every((t) => t.isDisposed));
    tf.dispose([...grads, ...ps.map((p) => p.variable)]);
  });
}

test('AdamW with --clip-grad-norm 1 through createOptimizer follows torch for three steps (clipped, not, clipped)', () => {
  const a = fixture.adamw;
  const config = {
    kind: 'adam',
    decoupled: true,
    weightDecay: a.weightDecay,
    excludeBatchNormAndBias: false, // torch.optim.AdamW decays every parameter
    clipGradNorm: a.maxNorm,
  } as const;
  const ps = params(a.params);
  const opt = createOptimizer(config);
  assert.ok(opt instanceof ClippedOptimizer);
  assert.equal(opt.kind, 'adam', 'the wrapper keeps the checkpoint kind of the optimiser it wraps');
  let state: OptimizerState | undefined;
  for (const [s, values] of a.grads.entries()) {
    const grads = gradsOf(values);
    const before = tf.memory().numTensors;
    opt.step(ps, grads, a.lr);
    if (s > 0) assert.equal(tf.memory().numTensors, before, `step ${s} leaked tensors`);
    tf.dispose(grads);
    close([opt.lastNorm!], [a.norms[s]!], `step ${s} norm`);
    for (const p of ps) close(p.variable.dataSync(), a.expected[s]![p.name]!, `step ${s} ${p.name}`);
    if (s === 0) state = opt.getState();
  }
  // The state is the wrapped Adam's: a fresh clipped optimiser resumes from step 1 identically.
  const resumed = params(a.expected[0]!);
  const second = createOptimizer(config);
  second.setState(state!);
  for (const values of a.grads.slice(1)) {
    const grads = gradsOf(values);
    second.step(resumed, grads, a.lr);
    tf.dispose(grads);
  }
  for (const p of resumed) close(p.variable.dataSync(), a.expected[2]![p.name]!, `resumed ${p.name}`);
  opt.dispose();
  second.dispose();
  tf.dispose([...ps, ...resumed].map((p) => p.variable));
});

test('without clipGradNorm createOptimizer does not wrap; bad values are one sentence', () => {
  const plain = createOptimizer({ kind: 'sgd' });
  assert.ok(!(plain instanceof ClippedOptimizer));
  for (const kind of ['sgd', 'lars', 'adam'] as const) {
    const opt = createOptimizer({ kind, clipGradNorm: 2 });
    assert.ok(opt instanceof ClippedOptimizer && opt.kind === kind, kind);
    opt.dispose();
  }
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
    assert.throws(
      () => createOptimizer({ kind: 'adam', clipGradNorm: bad }),
      new RegExp(`argument \`clipGradNorm\`. Expected a finite number > 0. Received: clipGradNorm=${bad}`),
    );
  const opt = new ClippedOptimizer(new Recorder(), 1);
  assert.throws(() => opt.step([], [tf.scalar(1)], 0.1), /`grads`/);
});
