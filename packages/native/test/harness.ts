/**
 * Runs the same tensor program on the `cpu` backend and on `native` and compares the outputs.
 * Inputs come from a seeded generator, so both backends see identical data.
 */
import assert from 'node:assert/strict';
// The umbrella package registers every op's gradient (tfjs-core's Node build does not).
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { nativeLoadError, registerNativeBackend } from '../src/index.js';

/** Fails loudly (never skips) when the addon is not built: CI installs libdnnl-dev. */
export function requireNative(): void {
  assert.ok(registerNativeBackend(), `the native backend is not available: ${nativeLoadError()}`);
}

/** Deterministic values in [lo, hi). */
export function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

export function rand(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  return tf.tensor(
    values(
      shape.reduce((a, b) => a * b, 1),
      seed,
      lo,
      hi,
    ),
    shape,
  );
}

export async function runOn(backend: string, program: () => tf.Tensor[]): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), `could not activate backend ${backend}`);
  const outs = tf.tidy(program);
  const data = outs.map((t) => {
    const d = t.dataSync();
    return d instanceof Float32Array ? Float32Array.from(d) : Float32Array.from(d as ArrayLike<number>);
  });
  tf.dispose(outs);
  return data;
}

/** max |a - b| / max |b| over each output. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'output sizes differ');
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    const ai = a[i]!;
    const bi = b[i]!;
    if (Number.isNaN(ai) !== Number.isNaN(bi)) return Number.POSITIVE_INFINITY;
    if (Number.isNaN(bi) || ai === bi) continue;
    diff = Math.max(diff, Math.abs(ai - bi));
    scale = Math.max(scale, Math.abs(bi));
  }
  return diff / scale;
}

/** Runs program on both backends; asserts every output agrees within tolerance. */
export async function compareBackends(
  name: string,
  program: () => tf.Tensor[],
  tolerance = 1e-4,
): Promise<void> {
  const expected = await runOn('cpu', program);
  const actual = await runOn('native', program);
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const err = relativeError(actual[i]!, expected[i]!);
    assert.ok(
      err <= tolerance,
      `${name}: output ${i} differs from cpu by relative error ${err} > ${tolerance}`,
    );
  }
}

/** The op's value and the gradients of sum(op(...) * r) with respect to every input. */
export function withGrads(
  inputs: tf.Tensor[],
  op: (...xs: tf.Tensor[]) => tf.Tensor,
  seed = 99,
): tf.Tensor[] {
  const y = op(...inputs);
  const r = rand(y.shape, seed);
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(op(...xs), r)))(inputs);
  return [y, ...grads];
}
