/**
 * Few-shot classification on frozen features: a handful of labelled examples per class (the support)
 * classify new images (the queries), with no training.
 *
 *   - `ncm`, nearest class mean: each class is the mean of its L2-normalised support features; a
 *     query goes to the class whose mean has the highest cosine similarity;
 *   - `knn`: the `neighbours` most cosine-similar support examples vote, one vote each (a tie goes
 *     to the class whose nearest neighbour is nearer).
 *
 * `fewShotEpisodes` measures accuracy against the shots per class: episode e draws its support as
 * the first `shots` examples of each class in the seeded permutation `epochOrder(count, seed, e)`,
 * so the 1-shot support of an episode is part of its 5-shot support, and so on.
 *
 * @example
 *   const predicted = fewShotPredict(support, queries.features, { classes: 10 });
 *   const curve = fewShotEpisodes(trainF, testF, { classes: 10, shots: [1, 5, 10, 20], episodes: 10 });
 */
import { check } from '../errors.js';
import { epochOrder } from '../train/sampler.js';
import type { FeatureSet } from './features.js';

export const FEW_SHOT_CLASSIFIERS = ['ncm', 'knn'] as const;
export type FewShotClassifier = (typeof FEW_SHOT_CLASSIFIERS)[number];

export interface FewShotOptions {
  classes: number;
  /** 'ncm' (default) or 'knn'. */
  classifier?: FewShotClassifier;
  /** knn: the voting neighbours, default 1 (capped at the support size). */
  neighbours?: number;
}

/** Rows of `x` [n, dim] scaled to unit length (a zero row stays zero). */
function unitRows(x: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[r * dim + j]! ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < dim; j++) out[r * dim + j] = x[r * dim + j]! * inv;
  }
  return out;
}

/** Predicted class of each query [queries, dim] from the labelled `support`. */
export function fewShotPredict(
  support: FeatureSet,
  queries: Float32Array,
  options: FewShotOptions,
): Int32Array {
  const { classes, classifier = 'ncm' } = options;
  const dim = support.dim;
  check(Number.isInteger(classes) && classes > 0, 'classes', 'a positive integer', classes);
  check(
    (FEW_SHOT_CLASSIFIERS as readonly string[]).includes(classifier),
    'classifier',
    FEW_SHOT_CLASSIFIERS.join(' or '),
    classifier,
  );
  check(support.count > 0, 'support', 'at least one labelled example', support.count);
  check(queries.length % dim === 0, 'queries', `a multiple of dim=${dim} values`, queries.length);
  for (const l of support.labels)
    check(Number.isInteger(l) && l >= 0 && l < classes, 'support labels', `integers in 0..${classes - 1}`, l);
  const q = unitRows(queries, dim); // [Q, D]
  const s = unitRows(support.features, dim); // [S, D]
  const count = q.length / dim;
  const out = new Int32Array(count);
  if (classifier === 'ncm') {
    const means = new Float32Array(classes * dim); // [C, D]
    const present = new Uint8Array(classes);
    for (let i = 0; i < support.count; i++) {
      const c = support.labels[i]!;
      present[c] = 1;
      for (let j = 0; j < dim; j++) means[c * dim + j]! += s[i * dim + j]!;
    }
    const unit = unitRows(means, dim); // cosine to the mean direction
    for (let r = 0; r < count; r++) {
      let best = -1;
      let bestScore = -Infinity;
      for (let c = 0; c < classes; c++) {
        if (!present[c]) continue; // a class without support examples cannot be predicted
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += q[r * dim + j]! * unit[c * dim + j]!;
        if (dot > bestScore) {
          bestScore = dot;
          best = c;
        }
      }
      out[r] = best;
    }
    return out;
  }
  const k = Math.min(options.neighbours ?? 1, support.count);
  check(Number.isInteger(k) && k >= 1, 'neighbours', 'an integer >= 1', options.neighbours);
  const sims = new Float32Array(support.count);
  const order = new Int32Array(support.count);
  const votes = new Int32Array(classes);
  const first = new Int32Array(classes);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < support.count; i++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += q[r * dim + j]! * s[i * dim + j]!;
      sims[i] = dot;
      order[i] = i;
    }
    order.sort((a, b) => sims[b]! - sims[a]! || a - b);
    votes.fill(0);
    first.fill(k);
    for (let n = 0; n < k; n++) {
      const c = support.labels[order[n]!]!;
      if (votes[c] === 0) first[c] = n;
      votes[c]!++;
    }
    // The most votes; a tie goes to the class whose nearest neighbour is nearer.
    let best = 0;
    for (let c = 1; c < classes; c++)
      if (votes[c]! > votes[best]! || (votes[c] === votes[best] && first[c]! < first[best]!)) best = c;
    out[r] = best;
  }
  return out;
}

/** The support of episode `episode`: the first `shots` examples of each class in a seeded order. */
export function fewShotSupport(
  pool: FeatureSet,
  options: { classes: number; shots: number; seed: number; episode: number },
): FeatureSet {
  const { classes, shots, seed, episode } = options;
  check(Number.isInteger(shots) && shots >= 1, 'shots', 'an integer >= 1', shots);
  const order = epochOrder(pool.count, seed, episode);
  const taken = new Int32Array(classes);
  const picked: number[] = [];
  for (const i of order) {
    const c = pool.labels[i]!;
    if (taken[c]! < shots) {
      taken[c]!++;
      picked.push(i);
    }
  }
  for (let c = 0; c < classes; c++)
    check(
      taken[c] === shots,
      'shots',
      `at most the examples of the rarest class (class ${c} has ${taken[c]})`,
      shots,
    );
  const dim = pool.dim;
  const features = new Float32Array(picked.length * dim);
  const labels = new Int32Array(picked.length);
  picked.forEach((i, n) => {
    features.set(pool.features.subarray(i * dim, (i + 1) * dim), n * dim);
    labels[n] = pool.labels[i]!;
  });
  return { features, labels, count: picked.length, dim };
}

export interface FewShotPoint {
  shots: number;
  /** Mean and sample standard deviation of the episodes' top-1. */
  mean: number;
  std: number;
  accuracies: number[];
}

/** Top-1 of `queries` against `shots` examples per class of `pool`, over `episodes` seeded episodes. */
export function fewShotEpisodes(
  pool: FeatureSet,
  queries: FeatureSet,
  options: FewShotOptions & { shots: number[]; episodes: number; seed?: number },
): FewShotPoint[] {
  const { shots, episodes, seed = 0 } = options;
  check(Number.isInteger(episodes) && episodes >= 1, 'episodes', 'an integer >= 1', episodes);
  check(shots.length > 0, 'shots', 'at least one number of shots per class', shots);
  check(queries.dim === pool.dim, 'queries', `features of dim ${pool.dim}`, queries.dim);
  return shots.map((k) => {
    const accuracies: number[] = [];
    for (let e = 0; e < episodes; e++) {
      const support = fewShotSupport(pool, { classes: options.classes, shots: k, seed, episode: e });
      const predicted = fewShotPredict(support, queries.features, options);
      let right = 0;
      for (let i = 0; i < queries.count; i++) if (predicted[i] === queries.labels[i]) right++;
      accuracies.push(right / queries.count);
    }
    const mean = accuracies.reduce((a, b) => a + b, 0) / episodes;
    const std =
      episodes > 1 ? Math.sqrt(accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / (episodes - 1)) : 0;
    return { shots: k, mean, std, accuracies };
  });
}
