/**
 * The 2-D pictures of embeddings (eval/projection.ts): PCA recovers the two directions of largest
 * variance of data built with known ones; UMAP keeps well-separated classes apart (leave-one-out
 * nearest neighbour in 2-D), is reproducible for a seed, and `project2` falls back to PCA where
 * UMAP cannot run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type FeatureSet, InvalidArgumentError, pca2, project2, Random, umap2 } from 'supcon';

/** `count` points in `dim` dimensions: class c sits at `spread` along axis c, plus uniform noise. */
function clusters(count: number, dim: number, classes: number, spread: number, seed = 1): FeatureSet {
  const random = new Random(seed);
  const features = new Float32Array(count * dim);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let j = 0; j < dim; j++) features[i * dim + j] = (j === c ? spread : 0) + random.uniform(-0.5, 0.5);
  }
  return { features, labels, count, dim };
}

/** Leave-one-out 1-nearest-neighbour accuracy of 2-D points. */
function nearestNeighbourAccuracy(points: [number, number][], labels: number[]): number {
  let right = 0;
  for (let i = 0; i < points.length; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < points.length; j++) {
      if (j === i) continue;
      const d = (points[i]![0] - points[j]![0]) ** 2 + (points[i]![1] - points[j]![1]) ** 2;
      if (d < bestD) [best, bestD] = [j, d];
    }
    if (labels[best] === labels[i]) right++;
  }
  return right / points.length;
}

describe('pca2', () => {
  test('projects onto the two directions of largest variance (up to sign)', () => {
    // x = 3a·e2 + 2b·e0 + 0.01·noise in 5-D, with a and b centred and orthogonal over the sample (so
    // their sample covariance is 0, not the ±1/√n of independent draws): the leading principal
    // direction is e2, the second e0, and the projections are 3a and 2b up to sign.
    const random = new Random(7);
    const count = 400;
    const dim = 5;
    const centred = (xs: number[]) => {
      const m = xs.reduce((s, x) => s + x, 0) / xs.length;
      return xs.map((x) => x - m);
    };
    const a = centred(Array.from({ length: count }, () => random.uniform(-1, 1)));
    let b = centred(Array.from({ length: count }, () => random.uniform(-1, 1)));
    const along = b.reduce((s, x, i) => s + x * a[i]!, 0) / a.reduce((s, x) => s + x * x, 0);
    b = b.map((x, i) => x - along * a[i]!);
    const features = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < dim; j++) features[i * dim + j] = 0.01 * random.uniform(-1, 1);
      features[i * dim + 2]! += 3 * a[i]!;
      features[i * dim + 0]! += 2 * b[i]!;
    }
    const { points } = pca2({ features, labels: new Int32Array(count), count, dim });
    const s0 = Math.sign(points[0]![0] * a[0]!);
    const s1 = Math.sign(points[0]![1] * b[0]!);
    for (let i = 0; i < count; i++) {
      assert.ok(
        Math.abs(points[i]![0] - s0 * 3 * a[i]!) < 0.02,
        `point ${i}: ${points[i]![0]} vs ±${3 * a[i]!}`,
      );
      assert.ok(
        Math.abs(points[i]![1] - s1 * 2 * b[i]!) < 0.02,
        `point ${i}: ${points[i]![1]} vs ±${2 * b[i]!}`,
      );
    }
  });
});

describe('umap2', () => {
  const set = clusters(300, 32, 10, 3);

  test('keeps well-separated classes apart: 1-NN in 2-D ≥ 0.95', () => {
    const { points, labels } = umap2(set);
    assert.equal(points.length, 300);
    assert.ok(points.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
    const accuracy = nearestNeighbourAccuracy(points, labels);
    assert.ok(accuracy >= 0.95, `1-NN accuracy ${accuracy}`);
  });

  test('the same seed draws the same picture, another seed another one', () => {
    const small = clusters(120, 16, 4, 3);
    const first = umap2(small, { seed: 3, epochs: 50 });
    const again = umap2(small, { seed: 3, epochs: 50 });
    const other = umap2(small, { seed: 4, epochs: 50 });
    assert.deepEqual(again.points, first.points);
    assert.notDeepEqual(other.points, first.points);
  });

  test('maxPoints takes the first points; too few points is refused naming the argument', () => {
    const { points, labels } = umap2(set, { maxPoints: 50, epochs: 20 });
    assert.equal(points.length, 50);
    assert.deepEqual(labels, Array.from(set.labels.subarray(0, 50)));
    assert.throws(
      () => umap2(clusters(10, 4, 2, 3)),
      (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError);
        assert.match(e.message, /features.*more than 15 points.*10 points/);
        return true;
      },
    );
  });
});

describe('project2', () => {
  test('umap by default, pca on request, pca where umap has too few points', () => {
    assert.equal(project2(clusters(60, 8, 3, 3), 'umap', { epochs: 20 }).method, 'umap');
    assert.equal(project2(clusters(60, 8, 3, 3), 'pca').method, 'pca');
    const few = project2(clusters(10, 8, 3, 3));
    assert.equal(few.method, 'pca');
    assert.equal(few.points.length, 10);
  });

  test('an unknown method is refused naming the argument', () => {
    assert.throws(
      () => project2(clusters(20, 4, 2, 3), 'tsne' as never),
      /projection.*one of umap, pca.*tsne/,
    );
  });
});
