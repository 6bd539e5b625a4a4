/**
 * SyncBatchNorm: training-mode batch normalisation over a batch split across R replicas (data-parallel
 * ranks), normalised with the statistics of the whole (global) batch instead of each replica's shard.
 *
 * Notation, per channel c (x is [..., C], the statistics run over every axis but the last):
 *   n_r, x_r       the values of replica r's shard (n_r of them per channel); N = Σ_r n_r
 *   K              a shift known to every replica (the running mean: identical everywhere)
 *   S1 = Σ (x − K),  S2 = Σ (x − K)²         over the global batch (one all-reduce of [N, S1, S2])
 *   μ = K + S1/N,    σ² = S2/N − (S1/N)²,     r = 1/√(σ² + ε)
 *   x̂ = (x − μ)·r,   y = γ·x̂ + β
 * Each replica sends n_r, n_r·(μ_r − K) and n_r·(σ_r² + (μ_r − K)²) from its shard's two-pass
 * moments, so nothing is summed as raw x²; the shift keeps S2/N − (S1/N)² from cancelling once the
 * running mean is near the batch mean (at K = 0, the first steps, it costs ≈ 1e-7·μ²/σ² relative).
 *
 * Backward, with the global sums G1 = Σ dy and G2 = Σ dy·x̂ (a second all-reduce of [G1, G2]):
 *   ∂L/∂x = γ·r·(dy − G1/N − x̂·G2/N)     (the full-batch batch-norm gradient, rows of this shard)
 *   ∂L/∂γ = Σ_shard dy·x̂,   ∂L/∂β = Σ_shard dy   (this shard's part: the trainer's gradient
 *   all-reduce sums them to the full-batch ∂L/∂γ, ∂L/∂β, like every other parameter's)
 * Exact: with the replicas' dy being the full-batch loss's gradient of their rows (distributed.ts),
 * ∂L/∂x equals the single-process full-batch gradient up to float32 summation order (≤ 1e-5, tested).
 *
 * The replica group is a scope (`withSyncBatchNorm`), like `tf.tidy`, rather than an argument of
 * every network's `apply`: the encoders call `batchNorm` many layers deep and stay unaware of it.
 * Each forward captures the group, so the backward (run later, outside the scope) uses the same one.
 * Every replica must run the same layers in the same order: the all-reduces pair up by call order.
 *
 * @example
 *   const { grads } = withSyncBatchNorm(collectives, () => variableGrads(loss, variables));
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';

/** The replicas a SyncBatchNorm reduces over (a data-parallel `Collectives` is one). */
export interface ReplicaGroup {
  /** The element-wise sum over the replicas, the same bits on every one; all call it in the same order. */
  allReduceSum(values: Float32Array): Float32Array;
}

let activeGroup: ReplicaGroup | undefined;

/** Runs `f` with every training-mode `batchNorm` in it synchronised over `group`. */
export function withSyncBatchNorm<T>(group: ReplicaGroup, f: () => T): T {
  const outer = activeGroup;
  activeGroup = group;
  try {
    return f();
  } finally {
    activeGroup = outer;
  }
}

/** The group of the innermost `withSyncBatchNorm` running now, if any. */
export function syncBatchNormGroup(): ReplicaGroup | undefined {
  return activeGroup;
}

export interface SyncBatchNormResult {
  y: tf.Tensor; // like x: γ·x̂ + β (no residual, no ReLU)
  mean: tf.Tensor1D; // [C] global μ
  variance: tf.Tensor1D; // [C] global biased σ²
  /** N: values per channel in the global batch. */
  count: number;
}

/** One training-mode SyncBatchNorm of `x` [..., C]; `shift` [C] is K (above), the same on every replica. */
export function syncBatchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  shift: tf.Tensor,
  epsilon: number,
  group: ReplicaGroup,
): SyncBatchNormResult {
  const channels = x.shape[x.shape.length - 1] ?? 1;
  const axes = x.shape.slice(0, -1).map((_, i) => i); // every axis but channels
  const local = x.size / channels; // n_r
  const k = shift.dataSync() as Float32Array; // [C]
  const mean = new Float32Array(channels); // μ
  const variance = new Float32Array(channels); // σ²
  const invStd = new Float32Array(channels); // r
  let count = 0; // N
  const normalize = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xs, g, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor]; // like x, [C], [C]
    const save = args[3] as tf.GradSaveFunc;
    const moments = tf.moments(xs, axes); // [C], [C] of this shard
    const mr = moments.mean.dataSync();
    const vr = moments.variance.dataSync();
    const sums = new Float32Array(1 + 2 * channels); // [n_r, Σ(x−K) [C], Σ(x−K)² [C]]
    sums[0] = local;
    for (let c = 0; c < channels; c++) {
      const d = mr[c]! - k[c]!;
      sums[1 + c] = local * d;
      sums[1 + channels + c] = local * (vr[c]! + d * d);
    }
    const total = group.allReduceSum(sums);
    check(total.length === sums.length, 'allReduceSum', `${sums.length} values`, total.length);
    count = total[0]!;
    for (let c = 0; c < channels; c++) {
      const d = total[1 + c]! / count; // μ − K
      mean[c] = k[c]! + d;
      variance[c] = Math.max(0, total[1 + channels + c]! / count - d * d);
      invStd[c] = 1 / Math.sqrt(variance[c]! + epsilon);
    }
    const xHat = tf.mul(tf.sub(xs, tf.tensor1d(mean)), tf.tensor1d(invStd)); // like x
    save([xHat, g]);
    const value = tf.add(tf.mul(xHat, g), b); // like x
    const gradFunc = (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const dy = dys as tf.Tensor; // like x
      const [xh, gs] = saved as [tf.Tensor, tf.Tensor];
      const dBeta = tf.sum(dy, axes); // [C] Σ_shard dy
      const dGamma = tf.sum(tf.mul(dy, xh), axes); // [C] Σ_shard dy·x̂
      const partial = new Float32Array(2 * channels);
      partial.set(dBeta.dataSync() as Float32Array, 0);
      partial.set(dGamma.dataSync() as Float32Array, channels);
      const global = group.allReduceSum(partial); // [G1 [C], G2 [C]]
      check(global.length === partial.length, 'allReduceSum', `${partial.length} values`, global.length);
      const g1 = tf.tensor1d(global.subarray(0, channels).map((v) => v / count)); // [C] G1/N
      const g2 = tf.tensor1d(global.subarray(channels).map((v) => v / count)); // [C] G2/N
      const scale = tf.mul(gs, tf.tensor1d(invStd)); // [C] γ·r
      const dx = tf.mul(scale, tf.sub(tf.sub(dy, g1), tf.mul(xh, g2))); // like x
      return [dx, dGamma, dBeta];
    };
    return { value, gradFunc };
  });
  const y = normalize(x, gamma, beta);
  return { y, mean: tf.tensor1d(mean), variance: tf.tensor1d(variance), count };
}
