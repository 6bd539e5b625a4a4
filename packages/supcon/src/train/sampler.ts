/**
 * The sampler: the order of an epoch is a pure function of (seed, epoch), so a resumed run sees
 * exactly the batches an uninterrupted one would, with no RNG state to save. The last incomplete
 * batch is dropped (contrastive losses compare within a batch; a tiny batch is a noisy step).
 */
import { hashSeed, permutation } from '../augment/random.js';

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
