import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { countPerClass, splitValidation, summariseDataset, validationIndices } from '@supcon/node';
import { InvalidArgumentError } from 'supcon';
import { tinyIdx } from './helpers.js';

const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 700 ? i % 7 : 7 + (i % 3)));

test('validation split: seeded, disjoint, complete and stratified', () => {
  const a = validationIndices(labels, { size: 100, seed: 3 });
  const b = validationIndices(labels, { size: 100, seed: 3 });
  const c = validationIndices(labels, { size: 100, seed: 4 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.validation, c.validation);
  assert.equal(a.validation.length, 100);
  const all = new Set([...a.train, ...a.validation]);
  assert.equal(all.size, 1000);
  const perClass = countPerClass(
    Int32Array.from(a.validation, (i) => labels[i]!),
    10,
  );
  const expected = countPerClass(labels, 10).map((n) => n / 10);
  for (const [k, n] of perClass.entries()) {
    assert.ok(Math.abs(n - expected[k]!) <= 1, `class ${k}: ${n} vs ${expected[k]}`);
  }
  assert.equal(validationIndices(labels, { size: 0.25 }).validation.length, 250);
});

test('validation split: bad sizes are argument errors', () => {
  for (const size of [0, -1, 1000, 1.5, Number.NaN]) {
    assert.throws(() => validationIndices(labels, { size }), InvalidArgumentError);
  }
});

test('splitValidation copies the images of each side', () => {
  const raw = tinyIdx(20, 2, 2);
  const images = raw.images.subarray(16);
  const set = {
    images,
    labels: Int32Array.from({ length: 20 }, (_, i) => i % 2),
    count: 20,
    height: 2,
    width: 2,
    channels: 1,
  };
  const { train, validation } = splitValidation(set, { size: 4, seed: 1 });
  const idx = validationIndices(set.labels, { size: 4, seed: 1 });
  assert.equal(train.count + validation.count, 20);
  assert.deepEqual(
    Array.from(validation.images.subarray(4, 8)),
    Array.from(images.subarray(idx.validation[1]! * 4, idx.validation[1]! * 4 + 4)),
  );
});

const cli = join(import.meta.dirname, '../../../cli/bin/supcon.js');

test('supcon data inspect: JSON summary, and a damaged file is one sentence on stderr with exit 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-inspect-'));
  try {
    const train = tinyIdx(30, 28, 28);
    const testSplit = tinyIdx(10, 28, 28, 2);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), train.images);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), train.labels);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), testSplit.images);
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), testSplit.labels);
    const ok = spawnSync(
      process.execPath,
      [cli, 'data', 'inspect', `mnist:${dir}`, '--validation', '10', '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(ok.status, 0, ok.stderr);
    const summary = JSON.parse(ok.stdout);
    assert.deepEqual(summary.shape, [28, 28, 1]);
    assert.equal(summary.splits.train.samples, 20);
    assert.equal(summary.splits.validation.samples, 10);
    assert.deepEqual(summary.splits.test.perClass, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const bad = train.labels.slice();
    bad[20] = 200;
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), bad);
    const fail = spawnSync(process.execPath, [cli, 'data', 'inspect', `mnist:${dir}`], { encoding: 'utf8' });
    assert.equal(fail.status, 1);
    assert.equal(fail.stdout, '');
    assert.equal(
      fail.stderr.trim(),
      `supcon: Invalid dataset file \`${join(dir, 'train-labels-idx1-ubyte')}\`: label 200 at index 12 is outside 0..9.`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('summariseDataset: CIFAR-100 style splits also count superclasses, validation included', () => {
  const n = 40;
  const set = {
    images: new Uint8Array(n * 4),
    labels: Int32Array.from({ length: n }, (_, i) => i % 4),
    coarseLabels: Int32Array.from({ length: n }, (_, i) => i % 2),
    count: n,
    height: 2,
    width: 2,
    channels: 1,
  };
  const dataset = {
    name: 'cifar100' as const,
    path: '/x',
    classes: ['a', 'b', 'c', 'd'],
    coarseClasses: ['even', 'odd'],
    train: set,
    test: set,
    mean: [0],
    std: [1],
  };
  const summary = summariseDataset(dataset, { size: 8, seed: 1 });
  assert.deepEqual(summary.splits.train.perCoarseClass, [16, 16]);
  assert.deepEqual(summary.splits.validation!.perCoarseClass, [4, 4]);
  assert.deepEqual(summary.splits.test!.perClass, [10, 10, 10, 10]);
});
