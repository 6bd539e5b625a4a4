/**
 * The opt-in output pool (SUPCON_NATIVE_POOL / setOutputPoolLimit): a disposed native output's
 * storage is reused by the next output of the same size, but never storage that was handed out
 * by dataSync or that a live view (Slice) still reads.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { setOutputPoolLimit } from '../src/index.js';
import { rand, requireNative } from './harness.js';

before(async () => {
  requireNative();
  await tf.setBackend('native');
  setOutputPoolLimit(64);
});
after(() => setOutputPoolLimit(Number(process.env['SUPCON_NATIVE_POOL'] ?? 0)));

type Storage = { data: { get(id: object): { values: Float32Array } } };
const storage = (t: tf.Tensor) => (tf.backend() as unknown as Storage).data.get(t.dataId).values;

test('a disposed native output is reused by the next output of its size', () => {
  const [x, y] = [rand([4096], 1), rand([4096], 2)];
  const first = tf.add(x, y);
  const kept = storage(first);
  first.dispose();
  const second = tf.mul(x, y);
  assert.equal(storage(second), kept, 'the storage was not reused');
  assert.deepEqual(second.dataSync(), tf.tidy(() => tf.mul(x, y)).dataSync());
  tf.dispose([x, y, second]);
});

test('storage handed out by dataSync is never reused', () => {
  const [x, y] = [rand([4096], 3), rand([4096], 4)];
  const sum = tf.add(x, y);
  const held = sum.dataSync();
  const copy = Float32Array.from(held);
  sum.dispose();
  const next = tf.mul(x, y);
  assert.notEqual(storage(next), held);
  assert.deepEqual(held, copy, 'the array dataSync returned was overwritten');
  tf.dispose([x, y, next]);
});

test('storage a live slice views is never reused', () => {
  const [x, y] = [rand([4096], 5), rand([4096], 6)];
  const sum = tf.add(x, y);
  const view = tf.slice(sum, [0], [2048]); // the cpu Slice kernel returns a subarray
  const expected = Float32Array.from(storage(sum).subarray(0, 2048));
  sum.dispose();
  const next = tf.mul(x, y);
  assert.deepEqual(view.dataSync(), expected, 'a live slice changed');
  tf.dispose([x, y, view, next]);
});
