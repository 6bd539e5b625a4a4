/** Shared helpers for the core's tests. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { type Network, Random, type TrainSet } from 'supcon';

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

/** 8×8 grey images of 4 classes: class c brightens quadrant c (of 4), plus seeded noise. */
export function quadrants(count: number, seed: number): TrainSet {
  const r = new Random(seed);
  const images = new Uint8Array(count * 64);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 4;
    for (let p = 0; p < 64; p++) {
      const lit = Math.floor(Math.floor(p / 8) / 4) * 2 + Math.floor((p % 8) / 4) === i % 4;
      images[i * 64 + p] = Math.min(255, Math.floor((lit ? 140 : 40) + 110 * r.next()));
    }
  }
  return { images, labels, count, height: 8, width: 8, channels: 1 };
}

/**
 * A dense encoder of 8×8 images without batch statistics: flatten → tanh(x W) [n, 16], so one
 * image's features do not depend on the rest of its batch.
 */
export function plainEncoder(seed: number): Network {
  const w = tf.variable(
    tf.randomNormal([64, 16], 0, 0.2, 'float32', seed),
    true,
    `plain_${seed}_${Math.random()}`,
  );
  const params = [{ name: 'w', variable: w }];
  return {
    apply: (x) => tf.tanh(tf.matMul(tf.reshape(x, [x.shape[0]!, 64]), w)),
    outputDim: 16,
    parameters: () => params,
    variables: () => params,
  };
}
