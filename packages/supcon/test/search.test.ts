/**
 * Exact search equals a brute-force sort of every item; the index file round-trips, and a file that
 * is not one, of another version, truncated, padded or damaged is refused with one sentence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  crc32,
  decodeIndexFile,
  ExactIndex,
  encodeIndexFile,
  INDEX_VERSION,
  IndexFileError,
  type IndexItems,
  type RetrievalMetric,
} from 'supcon';
import { rng } from './helpers.js';

function randomItems(seed: number, count: number, dim: number): IndexItems {
  const r = rng(seed);
  return {
    embeddings: Float32Array.from({ length: count * dim }, () => r() * 2 - 1),
    labels: Int32Array.from({ length: count }, () => Math.floor(r() * 5)),
    ids: Array.from({ length: count }, (_, i) => `train/${i}${i % 7 === 0 ? ' ✓' : ''}`),
    dim,
  };
}

/** Every item scored in float64 from the stored float32 values, then sorted. */
function bruteForce(items: IndexItems, query: Float32Array, metric: RetrievalMetric, k: number) {
  const { dim } = items;
  const norm = (x: Float32Array, at: number) => Math.hypot(...x.subarray(at, at + dim));
  const scored = items.ids.map((id, i) => {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const g = items.embeddings[i * dim + d]!;
      s += metric === 'cosine' ? query[d]! * g : (query[d]! - g) ** 2;
    }
    const score = metric === 'cosine' ? s / (norm(query, 0) * norm(items.embeddings, i * dim)) : Math.sqrt(s);
    return { index: i, id, label: items.labels[i]!, score };
  });
  scored.sort((a, b) => (metric === 'cosine' ? b.score - a.score : a.score - b.score) || a.index - b.index);
  return scored.slice(0, k);
}

test('exact search returns the brute-force nearest items, in order, with their scores', () => {
  const items = randomItems(3, 300, 16);
  const r = rng(11);
  for (const metric of ['cosine', 'euclidean'] as const) {
    const index = new ExactIndex(items, metric);
    assert.equal(index.count, 300);
    for (let q = 0; q < 20; q++) {
      const query = Float32Array.from({ length: 16 }, () => r() * 2 - 1);
      for (const k of [1, 7, 300, 1000]) {
        const got = index.search(query, k);
        const want = bruteForce(items, query, metric, k);
        assert.equal(got.length, Math.min(k, 300));
        assert.deepEqual(
          got.map((h) => [h.index, h.id, h.label]),
          want.map((h) => [h.index, h.id, h.label]),
          `${metric} query ${q} k ${k}`,
        );
        for (const [j, h] of got.entries())
          assert.ok(Math.abs(h.score - want[j]!.score) < 1e-5, `${h.score} vs ${want[j]!.score}`);
      }
    }
  }
});

test('equal scores come in item order; the item itself is its own nearest', () => {
  const items: IndexItems = {
    embeddings: Float32Array.from([1, 0, 0, 1, 2, 0, 0, 1]),
    labels: Int32Array.from([0, 1, 0, 1]),
    ids: ['a', 'b', 'c', 'd'],
    dim: 2,
  };
  const hits = new ExactIndex(items, 'cosine').search(Float32Array.from([0, 3]), 4);
  assert.deepEqual(
    hits.map((h) => h.id),
    ['b', 'd', 'a', 'c'],
  );
  assert.ok(Math.abs(hits[0]!.score - 1) < 1e-6);
  const e = new ExactIndex(items, 'euclidean').search(Float32Array.from([2, 0]), 1)[0]!;
  assert.deepEqual([e.id, e.score], ['c', 0]);
});

test('bad queries and items are one sentence naming the argument', () => {
  const index = new ExactIndex(randomItems(1, 10, 4), 'cosine');
  assert.throws(
    () => index.search(new Float32Array(3), 5),
    /^InvalidArgumentError: Invalid value for argument `query`\. Expected a Float32Array of 4 values \(the index's dimension\)\. Received: query="3 values"\.$/,
  );
  assert.throws(
    () => index.search(new Float32Array(4), 0),
    /argument `k`\. Expected an integer >= 1\. Received: k=0\./,
  );
  assert.throws(
    () => index.search(Float32Array.from([1, Number.NaN, 0, 0]), 1),
    /argument `query`\. Expected finite numbers/,
  );
  assert.throws(
    () => new ExactIndex({ ...randomItems(1, 10, 4), ids: ['x'] }, 'cosine'),
    /argument `ids`\. Expected 10 ids, one per item\. Received: ids="1 ids"\./,
  );
  assert.throws(() => new ExactIndex(randomItems(1, 10, 4), 'l1' as RetrievalMetric), /argument `metric`/);
});

test('CRC-32 is the IEEE one (check value of "123456789")', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('an index file round-trips items, metric and metadata, and searches alike', () => {
  const items = randomItems(5, 50, 8);
  const metadata = { classes: ['a', 'b'], source: { kind: 'run', run: '/tmp/x' }, dataset: 'fashion-mnist' };
  for (const metric of ['cosine', 'euclidean'] as const) {
    const bytes = encodeIndexFile(items, metric, metadata);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), 'SUPCONIX');
    const back = decodeIndexFile(bytes, 'x.index');
    assert.equal(back.metric, metric);
    assert.equal(back.version, INDEX_VERSION);
    assert.deepEqual(back.metadata, metadata);
    assert.deepEqual(back.items.ids, items.ids);
    assert.deepEqual(back.items.labels, items.labels);
    assert.deepEqual(back.items.embeddings, items.embeddings);
    assert.equal(back.items.dim, 8);
    const query = items.embeddings.slice(8, 16);
    assert.deepEqual(
      new ExactIndex(back.items, metric).search(query, 5),
      new ExactIndex(items, metric).search(query, 5),
    );
  }
});

test('not an index, another version, truncated, padded or damaged: one sentence each', () => {
  const bytes = encodeIndexFile(randomItems(2, 20, 4), 'cosine', { note: 'x' });
  const fails = (b: Uint8Array, message: RegExp) =>
    assert.throws(
      () => decodeIndexFile(b, 'runs/x.index'),
      (e: unknown) => e instanceof IndexFileError && message.test(e.message) && !e.message.includes('\n'),
    );
  fails(
    new TextEncoder().encode('{"not": "an index"} and more bytes to pass forty'),
    /^`runs\/x\.index` is not a supcon index file \(it does not start with SUPCONIX\)/,
  );
  fails(bytes.subarray(0, 12), /is not a supcon index file \(12 bytes, shorter than the 40-byte header\)/);
  const v2 = bytes.slice();
  new DataView(v2.buffer).setUint32(8, 2, true);
  fails(
    v2,
    /^Index file `runs\/x\.index` has format version 2, but this supcon reads version 1; rebuild it with `supcon index`\.$/,
  );
  fails(
    bytes.subarray(0, bytes.length - 5),
    /^Index file `runs\/x\.index` is truncated: 20 items of dimension 4 take \d+ bytes, the file has \d+\.$/,
  );
  const padded = new Uint8Array(bytes.length + 3);
  padded.set(bytes);
  fails(padded, /is longer than its header says/);
  for (const at of [40, 200, bytes.length - 1]) {
    const flipped = bytes.slice();
    flipped[at]! ^= 0x10;
    fails(
      flipped,
      /^Index file `runs\/x\.index` is damaged: its CRC-32 is 0x[0-9a-f]{8}, the header records 0x[0-9a-f]{8}; rebuild it/,
    );
  }
});
