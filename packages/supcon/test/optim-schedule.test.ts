/** Learning-rate schedules: warm-up, cosine, step decay and batch scaling, checked in closed form. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { learningRate, type Schedule, validateSchedule } from 'supcon';

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test('linear warm-up per iteration reaches the peak, then cosine decays to minLr', () => {
  const s: Schedule = {
    baseLr: 0.5,
    totalIterations: 110,
    warmupIterations: 10,
    minLr: 0.01,
    decay: 'cosine',
  };
  close(learningRate(0, s), 0.05, 'first warm-up iteration');
  close(learningRate(4, s), 0.25, 'middle of warm-up');
  close(learningRate(9, s), 0.5, 'end of warm-up');
  close(learningRate(10, s), 0.5, 'cosine start');
  close(learningRate(60, s), 0.01 + (0.49 * (1 + Math.cos(Math.PI / 2))) / 2, 'cosine middle');
  close(learningRate(110, s), 0.01, 'cosine end');
  for (let it = 11; it < 110; it++)
    assert.ok(learningRate(it, s) < learningRate(it - 1, s), `monotone at ${it}`);
});

test('warm-up from a start rate', () => {
  const s: Schedule = { baseLr: 1, totalIterations: 100, warmupIterations: 4, warmupStartLr: 0.2 };
  close(learningRate(0, s), 0.4, 'it 0');
  close(learningRate(3, s), 1, 'it 3');
});

test('step decay multiplies by gamma at each milestone', () => {
  const s: Schedule = { baseLr: 0.1, totalIterations: 100, decay: 'step', milestones: [30, 60], gamma: 0.5 };
  close(learningRate(29, s), 0.1, 'before');
  close(learningRate(30, s), 0.05, 'first milestone');
  close(learningRate(99, s), 0.025, 'second milestone');
  close(learningRate(50, { ...s, decay: 'constant' }), 0.1, 'constant');
});

test('batch-size scaling (lr · batch / 256)', () => {
  const s: Schedule = {
    baseLr: 0.3,
    totalIterations: 10,
    decay: 'constant',
    scaleWithBatch: true,
    batchSize: 1024,
  };
  close(learningRate(5, s), 1.2, 'scaled');
  close(learningRate(5, { ...s, referenceBatch: 512 }), 0.6, 'other reference');
  assert.throws(() => learningRate(0, { ...s, batchSize: 0 }), /argument `batchSize`/);
});

test('bad schedules are rejected naming the argument', () => {
  assert.throws(() => validateSchedule({ baseLr: -1, totalIterations: 10 }), /`baseLr`.*-1/);
  assert.throws(
    () => validateSchedule({ baseLr: 1, totalIterations: 10, warmupIterations: 10 }),
    /`warmupIterations`/,
  );
  assert.throws(
    () => validateSchedule({ baseLr: 1, totalIterations: 10, decay: 'linear' as 'cosine' }),
    /`decay`.*"linear"/,
  );
  assert.throws(
    () => validateSchedule({ baseLr: 1, totalIterations: 10, milestones: [5, 3] }),
    /`milestones`/,
  );
  assert.throws(() => learningRate(-1, { baseLr: 1, totalIterations: 10 }), /`iteration`/);
});
