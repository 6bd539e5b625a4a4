/**
 * Retrieval metrics against numpy (fixtures from `reference/make_retrieval_fixture.py`: query set vs
 * gallery and leave-one-out, cosine and Euclidean, labels absent from the gallery, a K past the
 * gallery), against a whole-row sort on integer features full of exact ties, and the errors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { type FeatureSet, type RetrievalMetric, retrievalMetrics } from 'supcon';
import { rng } from './helpers.js';

interface Expected {
  queries: number;
  skippedQueries: number;
  recallAtK: Record<string, number>;
  precisionAt1: number;
  rPrecision: number;
  mapAtR: number;
}
interface Case {
  name: string;
  metric: RetrievalMetric;
  mode: 'gallery' | 'leave-one-out';
  dim: number;
  ks: number[];
  queries: number[];
  queryLabels: number[];
  gallery?: number[];
  galleryLabels?: number[];
  expected: Expected;
}

const { cases } = JSON.parse(
  readFileSync(new URL('../test/fixtures/retrieval-cases.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

const set = (values: number[] | Float32Array, labels: number[] | Int32Array, dim: number): FeatureSet => ({
  features: Float32Array.from(values),
  labels: Int32Array.from(labels),
  count: labels.length,
  dim,
});

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-6, `${what}: ${a} vs ${b}`);

test('every metric equals the numpy reference, in both modes and both metrics', () => {
  assert.equal(cases.length, 4);
  for (const c of cases) {
    const queries = set(c.queries, c.queryLabels, c.dim);
    const gallery = c.mode === 'gallery' ? set(c.gallery!, c.galleryLabels!, c.dim) : 'leave-one-out';
    // ks [1, 5, 10] keeps fewer other items than the gallery holds (the selection path); the fixture's
    // ks reach past the gallery (everything kept). blockValues 1, 100 and the default: 1, a few, all rows.
    for (const ks of [c.ks, [1, 5, 10]])
      for (const blockValues of [1, 100, undefined]) {
        const got = retrievalMetrics(queries, gallery, {
          metric: c.metric,
          ks,
          ...(blockValues ? { blockValues } : {}),
        });
        const what = `${c.name} ks=[${ks}] block=${blockValues}`;
        assert.equal(got.metric, c.metric);
        assert.equal(got.mode, c.mode);
        assert.equal(got.queries, c.expected.queries, `${what} queries`);
        assert.equal(got.skippedQueries, c.expected.skippedQueries, `${what} skipped`);
        assert.equal(
          got.gallerySize,
          c.mode === 'gallery' ? c.galleryLabels!.length : c.queryLabels.length - 1,
        );
        for (const k of ks) close(got.recallAtK[k]!, c.expected.recallAtK[String(k)]!, `${what} R@${k}`);
        close(got.precisionAt1, c.expected.precisionAt1, `${what} P@1`);
        close(got.rPrecision, c.expected.rPrecision, `${what} R-precision`);
        close(got.mapAtR, c.expected.mapAtR, `${what} mAP@R`);
      }
  }
});

test('the fixture is not degenerate: metrics between 0 and 1, skipped queries present', () => {
  for (const c of cases) {
    const e = c.expected;
    assert.ok(e.skippedQueries > 0, c.name);
    for (const v of [e.recallAtK['1']!, e.rPrecision, e.mapAtR])
      assert.ok(v > 0.1 && v < 0.95, `${c.name}: ${v}`);
  }
});

/** The definitions read literally: sort each whole row (closeness, then other labels first), then count. */
function bySorting(queries: FeatureSet, gallery: FeatureSet, leaveOneOut: boolean, ks: number[]) {
  const sums = { recall: ks.map(() => 0), p1: 0, rp: 0, ap: 0, n: 0 };
  for (let i = 0; i < queries.count; i++) {
    const y = queries.labels[i]!;
    const rows: { d: number; rel: number }[] = [];
    for (let j = 0; j < gallery.count; j++) {
      if (leaveOneOut && j === i) continue;
      let d = 0;
      for (let k = 0; k < queries.dim; k++)
        d += (queries.features[i * queries.dim + k]! - gallery.features[j * gallery.dim + k]!) ** 2;
      rows.push({ d, rel: gallery.labels[j] === y ? 1 : 0 });
    }
    rows.sort((a, b) => a.d - b.d || a.rel - b.rel);
    const rel = rows.map((r) => r.rel);
    const r = rel.reduce((s, v) => s + v, 0);
    if (r === 0) continue;
    sums.n++;
    ks.forEach((k, j) => {
      sums.recall[j]! += rel.slice(0, k).some((v) => v === 1) ? 1 : 0;
    });
    sums.p1 += rel[0]!;
    let hits = 0;
    let ap = 0;
    for (let m = 0; m < r; m++) {
      hits += rel[m]!;
      ap += (rel[m]! * hits) / (m + 1);
    }
    sums.rp += hits / r;
    sums.ap += ap / r;
  }
  return sums;
}

test('integer features with many exact ties: equal to sorting every row, ties ranked against the query', () => {
  const r = rng(7);
  const dim = 3;
  const make = (n: number, classes: number) =>
    set(
      Array.from({ length: n * dim }, () => Math.floor(r() * 5) - 2),
      Array.from({ length: n }, () => Math.floor(r() * classes)),
      dim,
    );
  const ks = [1, 3, 10];
  const queries = make(50, 4);
  const gallery = make(120, 4);
  for (const [g, loo] of [
    [gallery, false],
    [queries, true],
  ] as const) {
    const got = retrievalMetrics(queries, loo ? 'leave-one-out' : g, {
      metric: 'euclidean',
      ks,
      blockValues: 300,
    });
    const want = bySorting(queries, g, loo, ks);
    assert.equal(got.queries, want.n);
    for (const [j, k] of ks.entries())
      close(got.recallAtK[k]!, want.recall[j]! / want.n, `loo=${loo} R@${k}`);
    close(got.precisionAt1, want.p1 / want.n, `loo=${loo} P@1`);
    close(got.rPrecision, want.rp / want.n, `loo=${loo} R-precision`);
    close(got.mapAtR, want.ap / want.n, `loo=${loo} mAP@R`);
  }
});

test('a tie between a relevant and another item ranks the other first (worked by hand)', () => {
  // Query at 0; gallery 1 (same label), −1 (other), 2 (same), 3 (other): distances 1, 1, 2, 3.
  // Ranked: −1, 1, 2, 3 → rel = 0, 1, 1, 0 and R = 2: R@1 0, R@2 1, R-precision 1/2, AP@R (1/2)(1/2).
  const got = retrievalMetrics(set([0], [0], 1), set([1, -1, 2, 3], [0, 1, 0, 1], 1), {
    metric: 'euclidean',
    ks: [1, 2],
  });
  assert.deepEqual(
    [got.recallAtK[1], got.recallAtK[2], got.precisionAt1, got.rPrecision, got.mapAtR],
    [0, 1, 0, 0.5, 0.25],
  );
});

test('a K past the gallery retrieves the whole gallery; absent labels are skipped, not scored', () => {
  const queries = set([1, 0, 0, 1, 1, 1], [0, 1, 7], 2);
  const gallery = set([0, 1, 1, 0.1, 2, 0], [1, 0, 0], 2);
  const got = retrievalMetrics(queries, gallery, { ks: [1, 3, 50] });
  assert.equal(got.queries, 2);
  assert.equal(got.skippedQueries, 1);
  assert.equal(got.recallAtK[50], 1);
  assert.equal(got.recallAtK[3], 1);
  assert.equal(got.precisionAt1, 1); // [1, 0] is nearest [2, 0]/[1, 0.1] (label 0); [0, 1] nearest [0, 1] (label 1)
  assert.throws(
    () => retrievalMetrics(set([1, 0], [5], 2), gallery),
    /Invalid value for argument `gallery`\. Expected an item with the label of at least one query\. Received: gallery="no gallery item of the queries' labels \(1 queries\)"\./,
  );
});

test('bad arguments are one sentence naming the argument, the expectation and the value', () => {
  const q = set([1, 0, 0, 1], [0, 1], 2);
  const cases: [() => unknown, RegExp][] = [
    [
      () => retrievalMetrics(q, q, { metric: 'manhattan' as RetrievalMetric }),
      /Invalid value for argument `metric`\. Expected one of cosine, euclidean\. Received: metric="manhattan"\.$/,
    ],
    [
      () => retrievalMetrics(q, q, { ks: [0, 5] }),
      /argument `ks`\. Expected a non-empty list of integers >= 1\. Received: ks=\[0, 5\]/,
    ],
    [() => retrievalMetrics(q, q, { ks: [] }), /argument `ks`/],
    [
      () => retrievalMetrics(q, set([1, 2, 3], [0], 3)),
      /argument `gallery`\. Expected features of dimension 2, as the queries\. Received: gallery=3\./,
    ],
    [
      () => retrievalMetrics(set([1, Number.NaN], [0], 2), q),
      /argument `queries\.features`\. Expected finite numbers\. Received: queries\.features="NaN at index 1"/,
    ],
    [
      () => retrievalMetrics({ ...q, labels: new Int32Array(3) }, q),
      /argument `queries\.labels`\. Expected 2 labels\. Received/,
    ],
    [
      () => retrievalMetrics(set([1, 0], [0], 2), 'leave-one-out'),
      /argument `gallery`\. Expected at least one item per query\. Received: gallery=0\./,
    ],
    [() => retrievalMetrics(q, q, { blockValues: 0 }), /argument `blockValues`/],
  ];
  for (const [f, message] of cases) assert.throws(f, message);
});

test('no tensor outlives a call; progress reaches every query', () => {
  const c = cases[0]!;
  const queries = set(c.queries, c.queryLabels, c.dim);
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  retrievalMetrics(queries, set(c.gallery!, c.galleryLabels!, c.dim), {
    blockValues: 600,
    onProgress: (done, total) => {
      assert.equal(total, queries.count);
      seen.push(done);
    },
  });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(seen, [10, 20, 30, 40]);
  assert.throws(() => retrievalMetrics(queries, queries, { metric: 'x' as RetrievalMetric }));
  assert.equal(tf.memory().numTensors, before);
});
