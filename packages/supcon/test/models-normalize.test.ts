/**
 * `l2NormalizeRows` (models/normalize.ts) against two independent references: float64 central
 * differences of L = Σ w ⊙ normalize(x) computed in plain JS, and tfjs's own differentiation of
 * `x / max(‖x‖, 1e-12)` through `tf.norm` (which is NaN on a zero row, where ours clamps); rows of
 * several norms, a zero row and a [B, V, D] input.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { L2_NORMALIZE_EPSILON, l2NormalizeRows } from 'supcon';
import { rng } from './helpers.js';

/** normalize(x) along the last axis in float64; x row-major with rows of length d. */
function normalize64(x: Float64Array, d: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[r * d + i]! ** 2;
    const n = Math.max(Math.sqrt(s), L2_NORMALIZE_EPSILON);
    for (let i = 0; i < d; i++) y[r * d + i] = x[r * d + i]! / n;
  }
  return y;
}

/** dL/dx of L = Σ w ⊙ normalize(x) by central differences (float64). */
function numericGrad(x: Float64Array, w: Float64Array, d: number): Float64Array {
  const loss = (v: Float64Array) => normalize64(v, d).reduce((a, y, i) => a + y * w[i]!, 0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const h = 1e-6 * Math.max(1, Math.abs(x[i]!));
    const p = Float64Array.from(x);
    const m = Float64Array.from(x);
    p[i]! += h;
    m[i]! -= h;
    g[i] = (loss(p) - loss(m)) / (2 * h);
  }
  return g;
}

function inputs(shape: number[], seed: number) {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const d = shape[shape.length - 1]!;
  const x = Float64Array.from({ length: size }, (_, i) => (r() - 0.5) * (1 + (Math.floor(i / d) % 3) * 10));
  const w = Float64Array.from({ length: size }, () => r() - 0.5);
  return { x, w, d };
}

test('l2NormalizeRows: values and gradient match float64 central differences', async () => {
  await tf.setBackend('cpu');
  for (const shape of [
    [5, 7],
    [3, 2, 4],
  ]) {
    const { x, w, d } = inputs(shape, shape.length);
    const xt = tf.tensor(Float32Array.from(x), shape);
    const wt = tf.tensor(Float32Array.from(w), shape);
    const y = l2NormalizeRows(xt).dataSync();
    const expectedY = normalize64(Float64Array.from(Float32Array.from(x)), d);
    for (let i = 0; i < y.length; i++) {
      assert.ok(Math.abs(y[i]! - expectedY[i]!) < 1e-6, `y[${i}] ${y[i]} vs ${expectedY[i]}`);
    }
    const g = tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(l2NormalizeRows(t), wt)))(xt)
      .dataSync();
    const expectedG = numericGrad(
      Float64Array.from(Float32Array.from(x)),
      Float64Array.from(Float32Array.from(w)),
      d,
    );
    for (let i = 0; i < g.length; i++) {
      const [a, b] = [g[i]!, expectedG[i]!];
      assert.ok(Math.abs(a - b) < 2e-5 * Math.max(1, Math.abs(b)), `dx[${i}] ${a} vs ${b}`);
    }
    tf.dispose([xt, wt]);
  }
});

test('l2NormalizeRows equals the tf.norm formula and its gradient; a zero row gets dy / ε, not NaN', async () => {
  await tf.setBackend('cpu');
  const { x, w } = inputs([4, 6], 9);
  x.fill(0, 6, 12); // row 1 is zero: its norm is clamped to 1e-12
  const xt = tf.tensor2d(Float32Array.from(x), [4, 6]);
  const wt = tf.tensor2d(Float32Array.from(w), [4, 6]);
  const viaNorm = (t: tf.Tensor) =>
    tf.div(t, tf.maximum(tf.norm(t, 'euclidean', -1, true), L2_NORMALIZE_EPSILON));
  const [ours, theirs] = [l2NormalizeRows, viaNorm].map((f) => f(xt).arraySync() as number[][]);
  assert.deepEqual(ours, theirs);
  const gradOf = (f: (t: tf.Tensor) => tf.Tensor) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), wt)))(xt);
  const gOurs = gradOf(l2NormalizeRows).arraySync() as number[][];
  const gTheirs = gradOf(viaNorm).arraySync() as number[][];
  for (const r of [0, 2, 3]) {
    for (let c = 0; c < 6; c++) {
      const a = gOurs[r]![c]!;
      const b = gTheirs[r]![c]!;
      assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `dx[${r}][${c}] ${a} vs ${b}`);
    }
  }
  // The clamped zero row gets dy / ε (n is a constant there), as PyTorch's F.normalize gives; the
  // tf.norm chain gives NaN (its Pow gradient takes log 0).
  assert.ok(gTheirs[1]!.every(Number.isNaN));
  gOurs[1]!.forEach((v, c) => {
    assert.ok(Math.abs(v - w[6 + c]! / L2_NORMALIZE_EPSILON) <= 1e-6 * Math.abs(v), `dx[1][${c}] ${v}`);
  });
  tf.dispose([xt, wt]);
});
