import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  DatasetError,
  DEBIAN_FASHION_MNIST,
  type ImageSet,
  loadDataset,
  parseCifar,
  parseIdx,
  parseIdxPair,
} from '@supcon/node';
import { tinyCifar, tinyIdx } from './helpers.js';

function throwsDataset(work: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(work, (error: unknown) => {
    assert.ok(error instanceof DatasetError, `expected a DatasetError, got ${String(error)}`);
    assert.ok(error.message.includes(`\`${file}\``), `message names the file: ${error.message}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), 'one line');
    return true;
  });
}

test('IDX: a valid pair parses, gzipped or not, into NHWC uint8 with labels', () => {
  const { images, labels } = tinyIdx(7, 5, 4);
  for (const [img, lab] of [
    [images, labels],
    [gzipSync(images), gzipSync(labels)],
  ] as const) {
    const set = parseIdxPair(img, 'i', lab, 'l', 10);
    assert.deepEqual([set.count, set.height, set.width, set.channels], [7, 5, 4, 1]);
    assert.deepEqual(Array.from(set.labels), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(set.images.subarray(0, 20)), Array.from(images.subarray(16, 36)));
  }
});

test('IDX: each kind of damage gives its own clear sentence', () => {
  const { images, labels } = tinyIdx(3, 2, 2);
  throwsDataset(
    () => parseIdx(images.slice(0, 20), 'f', 3),
    'f',
    /truncated: the header declares shape \[3, 2, 2\] \(28 bytes\) but the file holds 20/,
  );
  throwsDataset(() => parseIdx(images.slice(0, 9), 'f', 3), 'f', /truncated inside the header/);
  const bad = images.slice();
  bad[0] = 0x42;
  throwsDataset(() => parseIdx(bad, 'f', 3), 'f', /wrong magic number 0x42000803/);
  throwsDataset(() => parseIdx(labels, 'f', 3), 'f', /1 dimensions but 3 were expected/);
  throwsDataset(() => parseIdx(new Uint8Array([...images, 1, 2]), 'f', 3), 'f', /2 unexpected bytes/);
  throwsDataset(
    () => parseIdx(gzipSync(images).subarray(0, 30), 'f.gz', 3),
    'f.gz',
    /not a valid gzip stream/,
  );
  const four = tinyIdx(4, 2, 2).labels;
  throwsDataset(
    () => parseIdxPair(images, 'img', four, 'lab', 10),
    'lab',
    /holds 4 labels but `img` holds 3 images/,
  );
  const outOfRange = labels.slice();
  outOfRange[9] = 10;
  throwsDataset(
    () => parseIdxPair(images, 'img', outOfRange, 'lab', 10),
    'lab',
    /label 10 at index 1 is outside 0\.\.9/,
  );
});

test('CIFAR: planar records become interleaved NHWC; counts and labels are checked', () => {
  const bytes = tinyCifar('cifar10', 3);
  const set = parseCifar(bytes, 'b', { kind: 'cifar10', records: 3 });
  assert.deepEqual([set.count, set.height, set.width, set.channels], [3, 32, 32, 3]);
  // Pixel (row 0, col 1) of record 2: red at offset 1, green at 1025, blue at 2049 of its planes.
  const rec = 2 * 3073 + 1;
  assert.deepEqual(Array.from(set.images.subarray(2 * 3072 + 3, 2 * 3072 + 6)), [
    bytes[rec + 1],
    bytes[rec + 1025],
    bytes[rec + 2049],
  ]);
  throwsDataset(
    () => parseCifar(bytes.subarray(0, 5000), 'b', { kind: 'cifar10', records: 3 }),
    'b',
    /not a multiple of the 3073-byte cifar10 record/,
  );
  throwsDataset(
    () => parseCifar(bytes.subarray(0, 2 * 3073), 'b', { kind: 'cifar10', records: 3 }),
    'b',
    /holds 2 records but 3 were expected/,
  );
  const badLabel = bytes.slice();
  badLabel[3073] = 11;
  throwsDataset(
    () => parseCifar(badLabel, 'b', { kind: 'cifar10', records: 3 }),
    'b',
    /label 11 of record 1 is outside 0\.\.9/,
  );
  const c100 = tinyCifar('cifar100', 2);
  const s100 = parseCifar(c100, 'c', { kind: 'cifar100', records: 2 });
  assert.deepEqual(Array.from(s100.labels), [0, 7]);
  assert.deepEqual(Array.from(s100.coarseLabels!), [0, 1]);
  c100[3074] = 20;
  throwsDataset(
    () => parseCifar(c100, 'c', { kind: 'cifar100', records: 2 }),
    'c',
    /coarse label 20 of record 1 is outside 0\.\.19/,
  );
});

function writeIdxDir(dir: string, train: { images: Uint8Array; labels: Uint8Array }, gz: boolean): void {
  const test = tinyIdx(4, 28, 28, 9);
  const put = (name: string, bytes: Uint8Array) =>
    writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  put('train-images-idx3-ubyte', train.images);
  put('train-labels-idx1-ubyte', train.labels);
  put('t10k-images-idx3-ubyte', test.images);
  put('t10k-labels-idx1-ubyte', test.labels);
}

test('loadDataset reads mnist:PATH from disk and names the damaged file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-idx-'));
  try {
    const good = tinyIdx(12, 28, 28);
    writeIdxDir(dir, good, true);
    const ds = await loadDataset(`mnist:${dir}`);
    assert.equal(ds.train.count, 12);
    assert.equal(ds.test!.count, 4);
    writeIdxDir(dir, { images: good.images.subarray(0, 500), labels: good.labels }, false);
    rmSync(join(dir, 'train-images-idx3-ubyte.gz'));
    await assert.rejects(
      loadDataset(`mnist:${dir}`),
      (e: Error) =>
        e instanceof DatasetError && e.message.includes('train-images-idx3-ubyte`: it is truncated'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Debian Fashion-MNIST files load completely', {
  skip: !existsSync(DEBIAN_FASHION_MNIST),
}, async () => {
  const ds = await loadDataset('fashion-mnist');
  const full = (s: ImageSet) => [s.count, s.height, s.width, s.channels];
  assert.deepEqual(full(ds.train), [60000, 28, 28, 1]);
  assert.deepEqual(full(ds.test!), [10000, 28, 28, 1]);
  assert.equal(ds.classes.length, 10);
});
