/**
 * Few-shot classification against numpy (fixture from `reference/make_fewshot_fixture.py`: nearest
 * class mean and cosine kNN with k = 1 and 3 on clustered features), the episode sampler's
 * guarantees (shots per class, nested supports, seeded), and the errors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type FeatureSet, fewShotEpisodes, fewShotPredict, fewShotSupport } from 'supcon';

const fixture = JSON.parse(
  readFileSync(new URL('../test/fixtures/fewshot-cases.json', import.meta.url), 'utf8'),
) as {
  classes: number;
  dim: number;
  support: number[];
  supportLabels: number[];
  queries: number[];
  queryLabels: number[];
  ncm: number[];
  knn1: number[];
  knn3: number[];
  ncmAccuracy: number;
};
const support: FeatureSet = {
  features: Float32Array.from(fixture.support),
  labels: Int32Array.from(fixture.supportLabels),
  count: fixture.supportLabels.length,
  dim: fixture.dim,
};
const queries = Float32Array.from(fixture.queries);

test('nearest class mean and kNN (k 1, 3) predict what numpy predicts', () => {
  const { classes } = fixture;
  assert.deepEqual(Array.from(fewShotPredict(support, queries, { classes })), fixture.ncm);
  assert.deepEqual(
    Array.from(fewShotPredict(support, queries, { classes, classifier: 'knn', neighbours: 1 })),
    fixture.knn1,
  );
  assert.deepEqual(
    Array.from(fewShotPredict(support, queries, { classes, classifier: 'knn', neighbours: 3 })),
    fixture.knn3,
  );
  // The fixture is not trivial: the classifiers disagree on some queries and err on some.
  assert.notDeepEqual(fixture.ncm, fixture.knn1);
  assert.ok(fixture.ncmAccuracy > 0.5 && fixture.ncmAccuracy < 1);
});

test('a scaled feature changes nothing (cosine), and a class without support is never predicted', () => {
  const scaled = {
    ...support,
    features: support.features.map((v, i) => v * (1 + (Math.floor(i / support.dim) % 3))),
  };
  assert.deepEqual(Array.from(fewShotPredict(scaled, queries, { classes: fixture.classes })), fixture.ncm);
  const without = fewShotPredict(support, queries, { classes: fixture.classes + 2 });
  assert.ok(Array.from(without).every((c) => c < fixture.classes));
});

/** 5 classes × 12 examples, features one-hot-ish by class with noise. */
function pool(): FeatureSet {
  const count = 60;
  const dim = 5;
  const labels = Int32Array.from({ length: count }, (_, i) => i % 5);
  const features = new Float32Array(count * dim).map((_, j) => {
    const row = Math.floor(j / dim);
    return (j % dim === labels[row] ? 1 : 0) + 0.3 * Math.sin(7 * j + 1);
  });
  return { features, labels, count, dim };
}

test('episodes: k examples of every class, nested supports, seeded, mean ± std over episodes', () => {
  const p = pool();
  const s1 = fewShotSupport(p, { classes: 5, shots: 1, seed: 3, episode: 0 });
  const s5 = fewShotSupport(p, { classes: 5, shots: 5, seed: 3, episode: 0 });
  assert.deepEqual(
    Array.from(s5.labels).sort(),
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4],
  );
  const rows = (s: FeatureSet) =>
    Array.from({ length: s.count }, (_, i) => s.features.subarray(i * s.dim, (i + 1) * s.dim).join());
  for (const r of rows(s1)) assert.ok(rows(s5).includes(r), 'the 1-shot support is part of the 5-shot one');
  const other = fewShotSupport(p, { classes: 5, shots: 1, seed: 3, episode: 1 });
  assert.notDeepEqual(rows(s1), rows(other), 'another episode draws another support');
  assert.deepEqual(
    rows(s1),
    rows(fewShotSupport(p, { classes: 5, shots: 1, seed: 3, episode: 0 })),
    'seeded',
  );

  const curve = fewShotEpisodes(p, p, { classes: 5, shots: [1, 5], episodes: 4, seed: 3 });
  assert.deepEqual(
    curve.map((c) => c.shots),
    [1, 5],
  );
  for (const c of curve) {
    assert.equal(c.accuracies.length, 4);
    const mean = c.accuracies.reduce((a, b) => a + b) / 4;
    assert.ok(Math.abs(c.mean - mean) < 1e-12);
    const std = Math.sqrt(c.accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / 3);
    assert.ok(Math.abs(c.std - std) < 1e-12);
  }
  assert.ok(curve[1]!.mean >= curve[0]!.mean, 'more shots do not hurt on these clusters');
});

test('few-shot: one-sentence errors naming the argument', () => {
  const p = pool();
  assert.throws(
    () => fewShotSupport(p, { classes: 5, shots: 13, seed: 0, episode: 0 }),
    /`shots`.*rarest class.*13/,
  );
  assert.throws(
    () => fewShotSupport(p, { classes: 5, shots: 0, seed: 0, episode: 0 }),
    /`shots`.*integer >= 1/,
  );
  assert.throws(
    () => fewShotPredict(support, queries.subarray(1), { classes: fixture.classes }),
    /`queries`.*multiple of dim=6/,
  );
  assert.throws(
    () => fewShotPredict(support, queries, { classes: 2 }),
    /`support labels`.*integers in 0\.\.1/,
  );
  assert.throws(
    () => fewShotPredict(support, queries, { classes: 4, classifier: 'svm' as 'ncm' }),
    /`classifier`.*ncm or knn/,
  );
  assert.throws(() => fewShotEpisodes(p, p, { classes: 5, shots: [1], episodes: 0 }), /`episodes`/);
});
