/**
 * The time left of `supcon linear`'s progress line: images and probe epochs each at their own
 * measured rate, and no number pretending to cover the probe before one of its epochs has run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EvalProgressTracker } from '../src/train/eval-progress.js';

test('time left from the measured rates; the probe is left out (and says so) until measured', () => {
  let ms = 0;
  const t = new EvalProgressTracker(
    { trainImages: 1000, validationImages: 200, testImages: 800, probeEpochs: 10 },
    () => ms,
  );
  const first = t.update('train features', 0);
  assert.equal(first.secondsLeft, undefined, 'no rate yet');
  ms = 1000; // 500 images per second
  const half = t.update('train features', 500);
  assert.equal(half.secondsLeft, 1500 / 500);
  assert.equal(half.probeCounted, false);
  assert.equal(half.fraction, 0.25, 'images only, while the probe is not measured');
  ms = 2000;
  t.update('train features', 1000);
  ms = 2400;
  const val = t.update('validation features', 200);
  assert.equal(val.secondsLeft, 800 / 500);
  ms = 3400; // 2 probe epochs in 1 s
  const probe = t.update('probe', 2);
  assert.equal(probe.probeCounted, true);
  assert.equal(probe.secondsLeft, 800 / 500 + 8 / 2);
  assert.deepEqual([probe.done, probe.total, probe.unit], [2, 10, 'epochs']);
  ms = 7400;
  t.update('probe', 10);
  ms = 8000;
  const test1 = t.update('test features', 400);
  // 1600 images in 3 s of feature stages so far.
  assert.ok(Math.abs(test1.secondsLeft! - 400 / (1600 / 3)) < 1e-9, `${test1.secondsLeft}`);
  ms = 8800;
  const end = t.update('test features', 800);
  assert.equal(end.secondsLeft, 0);
  assert.equal(end.fraction, 1);
  assert.equal(end.elapsedSeconds, 8.8);
});
