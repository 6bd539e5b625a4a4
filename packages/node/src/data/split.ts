/**
 * A seeded, stratified validation split carved from the training set, so model selection
 * never looks at the test set (the PyTorch reference selects on the test set).
 */
import { hashSeed, InvalidArgumentError, Random } from 'supcon';
import { type ImageSet, subset } from './image-set.js';

/**
 * The validation split a `folder:` dataset gets when none is asked for: a fraction, because a
 * folder's size is not known in advance (the built-in datasets' presets hold out 5000 samples).
 */
export const DEFAULT_FOLDER_VALIDATION = 0.1;

export interface ValidationSplitOptions {
  /**
   * Number of validation samples (an integer, exactly that many) or a fraction of the training set
   * in (0, 1): then every class with at least 2 samples gives at least 1 and keeps at least 1.
   */
  size: number;
  /** Seed of the split; the same seed always picks the same samples. Default 0. */
  seed?: number;
}

/**
 * Indices of the validation samples and of the remaining training samples, both ascending.
 * Each class gives the same share of its samples (largest-remainder rounding), so class
 * balance is kept. A fraction f asks for round(f·n) samples shared that way, then lifts every
 * class of 2 or more samples to at least 1 validation sample and caps it at its size − 1 (a class
 * of one sample stays in training), so a small folder still has every class on both sides (the total may then differ from round(f·n)).
 *
 * @example
 *   validationIndices(Int32Array.from([0, 0, 0, 1, 1, 1]), { size: 0.1 }).validation.length; // 2
 */
export function validationIndices(
  labels: Int32Array,
  options: ValidationSplitOptions,
): { train: Int32Array; validation: Int32Array } {
  const n = labels.length;
  const { size, seed = 0 } = options;
  const fraction = size < 1;
  const requested = fraction ? Math.round(size * n) : size;
  const expected = `an integer count in 1..${n - 1} or a fraction in (0, 1) of the ${n} training samples`;
  if (!(Number.isFinite(size) && size > 0 && (fraction || Number.isInteger(size)) && requested < n)) {
    throw new InvalidArgumentError('validation', expected, size);
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const l = labels[i]!;
    let list = byClass.get(l);
    if (!list) {
      list = [];
      byClass.set(l, list);
    }
    list.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const sizes = classes.map((c) => byClass.get(c)!.length);
  const exact = sizes.map((m) => (m * requested) / n);
  const quota = exact.map(Math.floor);
  let left = requested - quota.reduce((a, b) => a + b, 0);
  const order = classes
    .map((_, k) => k)
    .sort((a, b) => exact[b]! - quota[b]! - (exact[a]! - quota[a]!) || a - b);
  for (const k of order) {
    if (left === 0) break;
    quota[k]!++;
    left--;
  }
  if (fraction) {
    // A class of one sample stays in training: there it can be learnt, in validation it cannot.
    sizes.forEach((m, k) => {
      quota[k] = m >= 2 ? Math.min(Math.max(quota[k]!, 1), m - 1) : 0;
    });
  }
  const total = quota.reduce((a, b) => a + b, 0);
  if (total < 1) throw new InvalidArgumentError('validation', expected, size);
  const isValidation = new Uint8Array(n);
  classes.forEach((c, k) => {
    const members = byClass.get(c)!;
    new Random(hashSeed(seed, c, members.length)).shuffle(members);
    for (let j = 0; j < quota[k]!; j++) isValidation[members[j]!] = 1;
  });
  const validation = new Int32Array(total);
  const train = new Int32Array(n - total);
  let v = 0;
  let t = 0;
  for (let i = 0; i < n; i++) {
    if (isValidation[i]) validation[v++] = i;
    else train[t++] = i;
  }
  return { train, validation };
}

/** Splits an ImageSet into training and validation sets; see validationIndices. */
export function splitValidation(
  set: ImageSet,
  options: ValidationSplitOptions,
): { train: ImageSet; validation: ImageSet } {
  const { train, validation } = validationIndices(set.labels, options);
  return { train: subset(set, train), validation: subset(set, validation) };
}
