/**
 * The sampler: the order of an epoch is a pure function of (seed, epoch) (and the labels, for the
 * balanced sampler), so a resumed run sees exactly the batches an uninterrupted one would, with no
 * RNG state to save. An epoch is `batchesPerEpoch` = floor(count / batchSize) batches (at least one);
 * the last incomplete batch is dropped (contrastive losses compare within a batch; a tiny batch is a
 * noisy step).
 *
 * 'random': a seeded permutation of the set, cut into batches.
 * 'balanced' (m = samplesPerClass, k = batchSize / m classes a batch): every batch holds m samples of
 * each of k distinct classes, so every anchor has positives (pytorch-metric-learning's MPerClassSampler
 * without its repeats). Precisely:
 *   - each class's samples form one endless stream of seeded shuffles (pass r of class c is the
 *     permutation seeded by (seed, c, r)), consumed m at a time across epochs: no sample of a class is
 *     drawn twice before every sample of that class was drawn once;
 *   - epoch e takes classes in a seeded rotation π_e (a permutation of the K classes): slot j of the
 *     epoch (batch floor(j / k)) is class π_e[j mod K], so the k classes of a batch are distinct and
 *     every class is taken ⌊P·k / K⌋ or ⌈P·k / K⌉ times an epoch (P batches);
 *   - a batch interleaves its classes (class g's i-th sample at position i·k + g), so any contiguous
 *     slice of it (a data-parallel shard) holds every class of the batch it can.
 * An epoch draws P·batchSize ≤ count samples, as the random sampler; with classes of equal size each
 * class is drawn count/K times an epoch, so an epoch covers about the whole set once. A class smaller
 * than the others is drawn more often than its share (it is revisited sooner), a larger one less.
 * Where class c's stream stands at epoch e is m · (the times c was taken in epochs 0..e−1), a sum over
 * the earlier rotations, computed without replaying any batch.
 */
import { hashSeed, permutation } from '../augment/random.js';
import { check } from '../errors.js';

export const SAMPLERS = ['random', 'balanced'] as const;
export type SamplerKind = (typeof SAMPLERS)[number];

/** What the order of an epoch depends on (a TrainConfig has every field). */
export interface SamplerSettings {
  /** Default 'random'. */
  sampler?: SamplerKind;
  /** 'balanced' only: m, the samples of each class in every batch. */
  samplesPerClass?: number;
  batchSize: number;
  seed: number;
}

export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  return permutation(count, hashSeed(seed, epoch, 0x5a3));
}

export function batchesPerEpoch(count: number, batchSize: number): number {
  return Math.max(1, Math.floor(count / batchSize));
}

/** Indices of batch `step` of an epoch (the whole set when it is smaller than one batch). */
export function batchIndices(order: Int32Array, step: number, batchSize: number): Int32Array {
  return order.subarray(step * batchSize, Math.min(order.length, (step + 1) * batchSize));
}

/**
 * The dataset indices of epoch `epoch` in batch order, for either sampler: batch `step` is
 * `batchIndices(order, step, batchSize)`.
 *
 * @example
 *   const order = samplerOrder({ sampler: 'balanced', samplesPerClass: 4, batchSize: 16, seed: 0 }, labels, 3);
 */
export function samplerOrder(s: SamplerSettings, labels: ArrayLike<number>, epoch: number): Int32Array {
  if ((s.sampler ?? 'random') === 'random') return epochOrder(labels.length, s.seed, epoch);
  return balancedEpochOrder(labels, s.seed, epoch, s.batchSize, s.samplesPerClass ?? 0);
}

/** The members of each class present in `labels`, classes in increasing order. */
function classMembers(labels: ArrayLike<number>): { classes: number[]; members: Int32Array[] } {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    const list = byClass.get(c);
    if (list) list.push(i);
    else byClass.set(c, [i]);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  return { classes, members: classes.map((c) => Int32Array.from(byClass.get(c)!)) };
}

/**
 * Refuses a balanced sampler the data cannot fill, naming the argument: m must divide the batch,
 * the data must have batchSize / m classes, and every class at least m samples.
 */
export function checkBalancedSampler(
  labels: ArrayLike<number>,
  batchSize: number,
  samplesPerClass: number,
): void {
  const m = samplesPerClass;
  check(Number.isInteger(m) && m > 0, 'samplesPerClass', 'a positive integer', m);
  check(batchSize % m === 0, 'samplesPerClass', `a divisor of batchSize=${batchSize}`, m);
  const { classes, members } = classMembers(labels);
  const k = batchSize / m;
  check(
    classes.length >= k,
    'samplesPerClass',
    `at least ${Math.ceil(batchSize / classes.length)} (batchSize ${batchSize} / samplesPerClass must not exceed the ${classes.length} classes of the data; ${m} needs ${k})`,
    m,
  );
  let smallest = 0;
  for (let c = 1; c < members.length; c++) if (members[c]!.length < members[smallest]!.length) smallest = c;
  const fewest = members[smallest]!.length;
  check(
    m <= fewest,
    'samplesPerClass',
    `at most ${fewest} (class ${classes[smallest]}, the smallest, has ${fewest} samples)`,
    m,
  );
}

/** The balanced sampler's order of epoch `epoch` (see the top of this file): batchesPerEpoch·batchSize indices. */
export function balancedEpochOrder(
  labels: ArrayLike<number>,
  seed: number,
  epoch: number,
  batchSize: number,
  samplesPerClass: number,
): Int32Array {
  checkBalancedSampler(labels, batchSize, samplesPerClass);
  const m = samplesPerClass;
  const { classes, members } = classMembers(labels);
  const K = classes.length;
  const k = batchSize / m;
  const P = batchesPerEpoch(labels.length, batchSize);
  const slots = P * k; // class draws of an epoch
  const rotation = (e: number) => permutation(K, hashSeed(seed, e, 0xba1)); // rotation position → class
  // Draws of the class at rotation position p in one epoch: the slots j < P·k with j mod K = p.
  const taken = (p: number) => (p < slots ? Math.floor((slots - 1 - p) / K) + 1 : 0);
  const stream = new Float64Array(K); // where each class's stream stands at the start of `epoch`
  for (let e = 0; e < epoch; e++) {
    const r = rotation(e);
    for (let p = 0; p < K; p++) stream[r[p]!]! += m * taken(p);
  }
  const passes = new Map<number, Int32Array>();
  const draw = (c: number): number => {
    const n = members[c]!.length;
    const at = stream[c]!++;
    const pass = Math.floor(at / n);
    const key = c * 0x100000 + pass;
    let perm = passes.get(key);
    if (!perm) {
      perm = permutation(n, hashSeed(seed, classes[c]!, pass, 0xba2));
      passes.set(key, perm);
    }
    return members[c]![perm[at - pass * n]!]!;
  };
  const r = rotation(epoch);
  const order = new Int32Array(P * batchSize);
  for (let b = 0; b < P; b++) {
    for (let g = 0; g < k; g++) {
      const c = r[(b * k + g) % K]!;
      for (let i = 0; i < m; i++) order[b * batchSize + i * k + g] = draw(c);
    }
  }
  return order;
}
