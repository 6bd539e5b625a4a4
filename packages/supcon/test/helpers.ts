/** Shared helpers for the core's tests. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

/** Deterministic pseudo-random numbers (mulberry32) so test inputs never change. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gaussian features [batch, views, dim], L2-normalised along the last axis when `normalise`. */
export function randomFeatures(
  seed: number,
  batch: number,
  views: number,
  dim: number,
  normalise = true,
): tf.Tensor3D {
  const r = rng(seed);
  const values = new Float32Array(batch * views * dim);
  for (let i = 0; i < values.length; i += 2) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    values[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < values.length) values[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  if (normalise) {
    for (let row = 0; row < batch * views; row++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += values[row * dim + d]! ** 2;
      const n = Math.sqrt(s);
      for (let d = 0; d < dim; d++) values[row * dim + d]! /= n;
    }
  }
  return tf.tensor3d(values, [batch, views, dim]);
}

export function randomLabels(seed: number, batch: number, classes: number): number[] {
  const r = rng(seed);
  return Array.from({ length: batch }, () => Math.floor(r() * classes));
}

/** |a − b| ≤ atol + rtol·|b| elementwise, with a message naming the first offending index. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  what = '',
): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    const ok = Math.abs(a - b) <= atol + rtol * Math.abs(b);
    if (!ok) assert.fail(`${what}: index ${i}: got ${a}, expected ${b} (rtol ${rtol}, atol ${atol})`);
  }
}

export function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}
