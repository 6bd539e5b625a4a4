/**
 * `supcon eval --retrieval`, `supcon index` and `supcon search` end to end on a tiny run: the metrics
 * equal the core's `retrievalMetrics` on the embeddings `supcon embed` writes (an independent path to
 * the same features), the index file decodes to what search then ranks, an indexed image finds itself
 * first, and a damaged or stale index or a bad flag gets one sentence.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encodePng } from '@supcon/node';
import {
  decodeIndexFile,
  ExactIndex,
  encodeIndexFile,
  type FeatureSet,
  type RetrievalMetric,
  retrievalMetrics,
} from 'supcon';
import { cli, hasFashion, tinyFashion, tinyRun } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(640, 300) : '';
const work = mkdtempSync(join(tmpdir(), 'supcon-retrieval-'));
const run = join(work, 'run');
const indexFile = join(work, 'indexes', 'train.index');
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
  rmSync(work, { recursive: true, force: true });
});
before(() => {
  if (!hasFashion) return;
  const trained = cli('train', '--out', run, ...tinyRun(data), '--quiet');
  assert.equal(trained.status, 0, trained.stderr);
});

/** One line on stderr (a warning that the native engine is unavailable may precede it), no stack. */
function oneSentence(r: ReturnType<typeof cli>, status: number): string {
  assert.equal(r.status, status, r.stdout + r.stderr);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('supcon: warning:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
  return lines[0]!;
}

function embedded(split: 'train' | 'test'): FeatureSet {
  const file = join(work, `${split}.json`);
  const r = cli('embed', '--run', run, '--split', split, '--out', file);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    labels: number[];
    embeddings: number[][];
    dim: number;
  };
  return {
    features: Float32Array.from(doc.embeddings.flat()),
    labels: Int32Array.from(doc.labels),
    count: doc.labels.length,
    dim: doc.dim,
  };
}

test('eval --retrieval: the metrics of the core on the embeddings supcon embed writes', { skip }, () => {
  const queries = embedded('test');
  const train = embedded('train');
  for (const [gallery, metric] of [
    ['train', 'cosine'],
    ['test', 'euclidean'],
  ] as const) {
    const r = cli('eval', '--retrieval', '--run', run, '--gallery', gallery, '--metric', metric, '--json');
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as Record<string, number | string>;
    const want = retrievalMetrics(queries, gallery === 'train' ? train : 'leave-one-out', {
      metric: metric as RetrievalMetric,
    });
    assert.equal(got['metric'], metric);
    assert.equal(got['querySplit'], 'test');
    assert.equal(got['mode'], gallery === 'train' ? 'gallery' : 'leave-one-out');
    assert.equal(got['gallerySize'], gallery === 'train' ? 512 : 299);
    assert.equal(got['queries'], want.queries);
    for (const [key, value] of [
      ['recallAt1', want.recallAtK[1]],
      ['recallAt5', want.recallAtK[5]],
      ['recallAt10', want.recallAtK[10]],
      ['precisionAt1', want.precisionAt1],
      ['rPrecision', want.rPrecision],
      ['mapAtR', want.mapAtR],
    ] as const) {
      const v = got[key] as number;
      assert.ok(Math.abs(v - value!) <= 1e-6, `${gallery} ${metric} ${key}: ${v} vs ${value}`);
      assert.ok(v > 0 && v <= 1, `${key} = ${v}`);
    }
  }
});

test('eval --retrieval shows progress on stderr and a line of results; bad flags are one sentence', {
  skip,
}, () => {
  const r = cli('eval', '--retrieval', '--run', run);
  assert.equal(r.status, 0, r.stderr);
  for (const stage of ['test features 300/300', 'train features 512/512', 'ranking 300/300'])
    assert.match(r.stderr, new RegExp(`eval: ${stage}`));
  assert.match(
    r.stdout,
    /^Retrieval \(cosine, 300 test queries vs 512 training images\): Recall@1 \d+\.\d\d%, @5 .*mAP@R \d+\.\d\d%\.\n$/,
  );
  assert.match(
    oneSentence(cli('eval', '--retrieval', '--run', run, '--metric', 'manhattan'), 2),
    /Invalid value for `--metric`\. Expected one of cosine, euclidean\. Received: manhattan\./,
  );
  assert.match(oneSentence(cli('eval', '--retrieval', '--run', run, '--k', '5'), 2), /Unknown flag `--k`/);
  assert.match(
    oneSentence(cli('eval', '--retrieval'), 2),
    /Flag `--run DIR` or `--pretrained NAME` is required/,
  );
});

/** The PNG of training image `i` of the tiny dataset (28×28 grey: lossless, no resize on the way back). */
function trainingImagePng(i: number): string {
  const idx = readFileSync(join(data, 'train-images-idx3-ubyte'));
  const file = join(work, `train-${i}.png`);
  writeFileSync(file, encodePng(idx.subarray(16 + i * 784, 16 + (i + 1) * 784), 28, 28, 1));
  return file;
}

test('index writes a versioned file atomically; search finds an indexed image first, as exact search does', {
  skip,
}, () => {
  const built = cli('index', '--run', run, '--out', indexFile, '--json');
  assert.equal(built.status, 0, built.stderr);
  const summary = JSON.parse(built.stdout) as {
    items: number;
    dim: number;
    bytes: number;
    exactSearch: { queries: number; queriesPerSecond: number };
  };
  assert.equal(summary.items, 640, 'the whole training split, validation part included');
  assert.ok(summary.exactSearch.queriesPerSecond > 0 && summary.exactSearch.queries === 200);
  assert.deepEqual(readdirSync(join(work, 'indexes')), ['train.index'], 'no temporary file left');
  const bytes = readFileSync(indexFile);
  assert.equal(bytes.length, summary.bytes);
  const { items, metric, metadata } = decodeIndexFile(bytes, indexFile);
  assert.equal(metric, 'cosine');
  assert.equal(items.dim, summary.dim);
  assert.equal(items.ids[7], 'train/7');
  const labels = readFileSync(join(data, 'train-labels-idx1-ubyte')).subarray(8);
  assert.deepEqual(Array.from(items.labels), Array.from(labels));
  assert.equal((metadata['classes'] as string[])[9], 'Ankle boot');

  const image = trainingImagePng(3);
  const r = cli('search', indexFile, '--image', image, '--k', '5', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    items: number;
    hits: { rank: number; id: string; label: string; labelIndex: number; score: number }[];
  };
  assert.equal(out.items, 640);
  assert.equal(out.hits.length, 5);
  assert.equal(out.hits[0]!.id, 'train/3');
  assert.ok(Math.abs(out.hits[0]!.score - 1) < 1e-5, `self-similarity ${out.hits[0]!.score}`);
  const want = new ExactIndex(items, 'cosine').search(
    items.embeddings.slice(3 * items.dim, 4 * items.dim),
    5,
  );
  assert.deepEqual(
    out.hits.map((h) => h.id),
    want.map((h) => h.id),
  );
  for (const [i, h] of out.hits.entries()) {
    assert.ok(Math.abs(h.score - want[i]!.score) < 1e-5);
    assert.equal(h.labelIndex, want[i]!.label);
    assert.equal(h.label, (metadata['classes'] as string[])[h.labelIndex]);
  }
  const text = cli('search', indexFile, '--image', image, '--k', '3');
  assert.equal(text.status, 0, text.stderr);
  const lines = text.stdout.trim().split('\n');
  assert.match(
    lines[0]!,
    /^Nearest 3 of 640 items of .*train\.index to .*train-3\.png \(cosine similarity\):$/,
  );
  assert.match(lines[1]!, /^ {2}1 {2}train\/3 +\S.* 1\.0000$/);
  assert.equal(lines.length, 4);
});

test('index --dataset folder:DIR indexes images of another dataset, prepared to the run’s input', {
  skip,
}, () => {
  const folder = join(work, 'photos');
  for (const [c, name] of ['dark', 'light'].entries()) {
    mkdirSync(join(folder, name), { recursive: true });
    for (let i = 0; i < 3; i++) {
      const pixels = new Uint8Array(12 * 12 * 3).map((_, k) => (c ? 180 : 20) + ((i * 31 + k * 7) % 60));
      writeFileSync(join(folder, name, `${i}.png`), encodePng(pixels, 12, 12, 3));
    }
  }
  const file = join(work, 'photos.index');
  const built = cli('index', '--run', run, '--dataset', `folder:${folder}`, '--out', file, '--json');
  assert.equal(built.status, 0, built.stderr);
  assert.equal((JSON.parse(built.stdout) as { items: number }).items, 6);
  const { metadata, items } = decodeIndexFile(readFileSync(file), file);
  assert.deepEqual(metadata['classes'], ['dark', 'light']);
  assert.deepEqual(Array.from(items.labels), [0, 0, 0, 1, 1, 1]);
  const r = cli('search', file, '--image', join(folder, 'light', '1.png'), '--k', '2', '--json');
  assert.equal(r.status, 0, r.stderr);
  const hit = (JSON.parse(r.stdout) as { hits: { id: string; label: string; score: number }[] }).hits[0]!;
  assert.deepEqual([hit.id, hit.label], ['train/4', 'light']);
  assert.ok(Math.abs(hit.score - 1) < 1e-5, `self-similarity ${hit.score}`);
});

test('a damaged, truncated, missing or stale index, or a bad command line: one sentence each', {
  skip,
}, () => {
  const image = trainingImagePng(0);
  const good = readFileSync(indexFile);
  const damaged = join(work, 'damaged.index');
  const flipped = Uint8Array.from(good);
  flipped[100]! ^= 1;
  writeFileSync(damaged, flipped);
  assert.match(
    oneSentence(cli('search', damaged, '--image', image), 1),
    /damaged\.index` is damaged: its CRC-32/,
  );
  writeFileSync(damaged, good.subarray(0, good.length - 10));
  assert.match(
    oneSentence(cli('search', damaged, '--image', image), 1),
    /is truncated: 640 items of dimension \d+ take/,
  );
  assert.match(
    oneSentence(cli('search', join(work, 'none.index'), '--image', image), 1),
    /Index file `.*none\.index` cannot be read \(no such file\); build one with `supcon index`\./,
  );
  // An index whose recorded checkpoint is not the run's any more (as after more training).
  const { items, metric, metadata } = decodeIndexFile(good, indexFile);
  const source = metadata['source'] as { checkpoint: { sha256: string } };
  source.checkpoint.sha256 = '0'.repeat(64);
  writeFileSync(damaged, encodeIndexFile(items, metric, metadata));
  assert.match(
    oneSentence(cli('search', damaged, '--image', image), 1),
    /The checkpoint of run `.*run` is not the one index `.*damaged\.index` was built from .*rebuild the index with `supcon index --run/,
  );
  assert.match(oneSentence(cli('search', indexFile), 2), /Flag `--image PATH` is required/);
  assert.match(
    oneSentence(cli('search', '--image', image), 2),
    /Give exactly one INDEX file.*received none\./,
  );
  assert.match(
    oneSentence(cli('search', indexFile, '--image', image, '--k', '0'), 2),
    /Invalid value for `--k`/,
  );
  assert.match(oneSentence(cli('index', '--run', run), 2), /Flag `--out INDEX` is required/);
  assert.match(
    oneSentence(cli('index', '--run', run, '--out', join(work, 'x.index'), '--split', 'validation'), 2),
    /Invalid value for `--split`\. Expected one of train, test\. Received: validation\./,
  );
});
