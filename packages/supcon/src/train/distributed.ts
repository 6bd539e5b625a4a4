/**
 * Data-parallel training over P workers, each holding a full copy of the model and 1/P of every batch.
 * The contrastive loss couples every row of the batch with every other, so the usual recipe (each
 * worker's own loss, gradients averaged) computes a different, smaller-batch loss. Instead:
 *
 *   1. worker p forwards its shard with a tape → its embeddings z_p [n_p·V, D];
 *   2. all-gather the (detached) embeddings → every worker holds Z [B·V, D] in the batch's order;
 *   3. worker p computes the full-batch loss of Z with its own rows replaced by the taped z_p, so
 *      back-propagation reaches only its rows: its gradient is (∂z_p/∂θ)ᵀ dL/dz_p;
 *   4. all-reduce (sum) the gradients: Σ_p (∂z_p/∂θ)ᵀ dL/dz_p = dL/dθ, the single-process gradient;
 *   5. every worker applies the same optimiser step to the same sum, so the weights stay identical.
 *
 * Exact for encoders without batch statistics. BatchNorm normalises each shard with its own statistics
 * (as PyTorch DDP without SyncBatchNorm); the running statistics are averaged over the workers after
 * each step, so every worker keeps the same ones. With `config.syncBatchNorm` the forward runs inside
 * `withSyncBatchNorm(collectives, …)` (models/sync_batch_norm.ts): every BatchNorm normalises with the
 * global batch's statistics (two small all-reduces per layer, one in the forward, one in the
 * backward), step 3's gradient is the full-batch one for BatchNorm too, and the running statistics,
 * computed from the same all-reduced sums, are the same on every worker without averaging.
 *
 * The memory queue (config.queueSize) holds the gathered Z of earlier steps, the same bits on every
 * worker, so step 3's loss is the one-process queue loss. Gradient caching (config.chunkRows) chunks
 * each worker's shard: pass 1 forwards the chunks, the gather and the full-batch loss give dL/dz_p,
 * pass 2 pulls it back chunk by chunk (gradcache.ts); with BatchNorm each chunk is its own batch, so
 * it equals one process whose chunks are the same rows (chunkRows dividing every shard's rows).
 *
 * The collectives are plain callbacks, so any transport fits; the all-gather runs inside the gradient
 * tape and must therefore be synchronous (blocking pipes between processes, SharedArrayBuffer and
 * Atomics.wait between threads). A transport that can only await would use the two-pass form of
 * gradient caching (gradcache.ts) instead, at the price of a second forward pass.
 *
 * @example
 *   const worker = new DataParallelTrainer({ config, encoder, head, data, collectives });
 *   worker.run({ afterEpoch: (e) => console.log(e.loss) }); // on every rank, in lockstep
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import type { FeatureQueue } from '../losses/queue.js';
import type { Network } from '../models/network.js';
import { type ReplicaGroup, withSyncBatchNorm } from '../models/sync_batch_norm.js';
import type { Parameter } from '../optim/types.js';
import { type Batch, type BatchOutcome, gatherImages, TrainerBase } from './base.js';
import type { TrainConfig } from './config.js';
import { cachedGradients } from './gradcache.js';
import { variableGrads } from './grads.js';
import { methodLoss } from './loss.js';
import { mixes } from './mix.js';
import type { TrainerOptions } from './trainer.js';

export { type ReplicaGroup, withSyncBatchNorm } from '../models/sync_batch_norm.js';

/** What a worker needs from the transport. Both calls are made by every rank in the same order. */
export interface Collectives {
  readonly rank: number;
  readonly size: number;
  /** Every rank's `local` concatenated in rank order (lengths may differ). Called inside the tape. */
  allGather(local: Float32Array): Float32Array;
  /** The element-wise sum over ranks, bit-identical on every rank (one fixed summation order). */
  allReduceSum(values: Float32Array): Float32Array;
}

/** The samples [start, end) of a batch of `batch` that rank `rank` of `size` holds (contiguous, sizes differ by ≤ 1). */
export function shardRange(batch: number, rank: number, size: number): { start: number; end: number } {
  check(Number.isInteger(size) && size > 0, 'size', 'a positive integer', size);
  check(Number.isInteger(rank) && rank >= 0 && rank < size, 'rank', `an integer in [0, ${size})`, rank);
  check(batch >= size, 'batchSize', `at least the number of workers (${size})`, batch);
  return { start: Math.floor((batch * rank) / size), end: Math.floor((batch * (rank + 1)) / size) };
}

export interface ShardGradientsOptions {
  encoder: Network;
  head: Network;
  /** This shard's views [n·V, H, W, C], sample-major. */
  inputs: tf.Tensor4D;
  /** Labels of the whole batch [B]. */
  labels: Int32Array;
  /** This shard's samples [start, end) within the batch. */
  shard: { start: number; end: number };
  config: Pick<TrainConfig, 'method' | 'views' | 'temperature' | 'baseTemperature'>;
  /** Trainable parameters, in the order of the returned gradients. */
  params: readonly Parameter[];
  allGather: (local: Float32Array) => Float32Array;
  /** SyncBatchNorm: normalise every BatchNorm with the statistics summed over this group (absent: the shard's). */
  syncBatchNorm?: ReplicaGroup;
  /** supcon/simclr: also contrast the batch with these rows of earlier steps (the same on every rank). */
  queue?: FeatureQueue;
  /**
   * Gradient caching (gradcache.ts) of this shard: forward it this many rows at a time (0 or absent:
   * at once). The gather and the full-batch loss sit between its two passes.
   */
  chunkRows?: number;
  /** With `chunkRows`: the variables the forward updates (BatchNorm running statistics), kept from pass 1. */
  state?: tf.Variable[];
}

/**
 * Steps 1–3 for one worker: the full-batch loss, this shard's share of its gradient (one tensor per
 * parameter, zeros where the loss does not reach it) and the gathered embeddings Z [B·V·D] (what the
 * queue takes). The caller disposes the gradients.
 */
export function shardGradients(options: ShardGradientsOptions): {
  loss: number;
  grads: tf.Tensor[];
  embeddings: Float32Array;
} {
  const { encoder, head, inputs, labels, shard, config, params } = options;
  const views = config.views;
  const batch = labels.length;
  const rows = (shard.end - shard.start) * views;
  check(inputs.shape[0] === rows, 'inputs', `${rows} rows (the shard's views)`, inputs.shape[0]);
  const variables = params.map((p) => p.variable);
  let embeddings: Float32Array | undefined;
  // Steps 2–3: the full-batch loss of this shard's outputs, the other ranks' rows as constants.
  const fullBatchLoss = (local: tf.Tensor2D): tf.Scalar => {
    const dim = local.shape[1]!;
    const all = options.allGather(local.dataSync() as Float32Array); // [B·V·D], rank order
    check(all.length === batch * views * dim, 'allGather', `${batch * views * dim} values`, all.length);
    embeddings = all;
    const parts: tf.Tensor2D[] = [];
    const detached = (from: number, to: number) =>
      tf.tensor2d(all.subarray(from * views * dim, to * views * dim), [(to - from) * views, dim]);
    if (shard.start > 0) parts.push(detached(0, shard.start)); // [start·V, D], no gradient
    parts.push(local); // [n·V, D], taped: the only rows the gradient reaches
    if (shard.end < batch) parts.push(detached(shard.end, batch)); // [(B−end)·V, D], no gradient
    const full = parts.length === 1 ? local : (tf.concat(parts, 0) as tf.Tensor2D); // [B·V, D]
    return methodLoss(config.method, full, labels, views, config, options.queue);
  };
  const forward = (x: tf.Tensor) => head.apply(encoder.apply(x, true), true) as tf.Tensor2D; // [n·V, D]
  const chunkRows = options.chunkRows ?? 0;
  const gradients = () =>
    chunkRows > 0 && chunkRows < rows
      ? cachedGradients({
          forward,
          loss: fullBatchLoss,
          inputs,
          chunkRows,
          variables,
          ...(options.state ? { state: options.state } : {}),
        })
      : variableGrads(() => fullBatchLoss(forward(inputs)), variables);
  return tf.tidy(() => {
    const { value, grads } = options.syncBatchNorm
      ? withSyncBatchNorm(options.syncBatchNorm, gradients)
      : gradients();
    const loss = value.dataSync()[0]!;
    return { loss, grads: variables.map((v) => grads[v.name] ?? tf.zerosLike(v)), embeddings: embeddings! };
  });
}

export interface DataParallelTrainerOptions extends TrainerOptions {
  collectives: Collectives;
}

/**
 * The Trainer's loop (the same `step()`/`steps()` of TrainerBase: sampler, schedule, optimiser, step
 * and epoch records, state) for one rank of a data-parallel group. Every rank sees the whole data set and derives the batch from (seed, epoch),
 * so only embeddings and gradients cross the transport.
 */
export class DataParallelTrainer extends TrainerBase {
  readonly collectives: Collectives;
  /**
   * Non-trainable variables (BatchNorm running statistics): averaged over ranks after each step; none
   * with SyncBatchNorm, whose running statistics come out the same on every rank.
   */
  private readonly buffers: Parameter[];

  constructor(options: DataParallelTrainerOptions) {
    super(options);
    const { config, data, collectives } = options;
    shardRange(Math.min(config.batchSize, data.count), collectives.rank, collectives.size);
    check(
      !(config.syncBatchNorm && config.chunkRows > 0 && collectives.size > 1),
      'chunkRows',
      '0 with syncBatchNorm over several processes (gradient caching normalises each chunk on its own, so the ranks would not pair their BatchNorm statistics up)',
      config.chunkRows,
    );
    check(
      config.queueMomentum === undefined,
      'queueMomentum',
      'no value in data-parallel training (the momentum encoder runs in one process only for now)',
      config.queueMomentum,
    );
    check(
      !mixes(config),
      config.mixupAlpha !== undefined ? 'mixupAlpha' : 'cutmixAlpha',
      'no value in data-parallel training (a batch is mixed with a shuffle of the whole batch, which no rank holds)',
      config.mixupAlpha ?? config.cutmixAlpha,
    );
    this.collectives = collectives;
    this.buffers = config.syncBatchNorm ? [] : this.stateVariables();
  }

  /** One synchronous step on this rank's shard of the batch; every rank must call `step()` together. */
  protected override trainBatch({ epoch, indices, lr }: Batch): BatchOutcome {
    const batch = indices.length;
    const { views, seed } = this.config;
    const shard = shardRange(batch, this.collectives.rank, this.collectives.size);
    const local = indices.subarray(shard.start, shard.end); // [n] dataset indices of this shard
    const labels = Int32Array.from(indices, (i) => this.data.labels[i]!); // [B]
    const pixels = this.makeViews(gatherImages(this.data, local), local.length, {
      views,
      seed,
      epoch,
      indices: local,
    });
    const inputs = tf.tensor4d(pixels, [local.length * views, ...this.viewShape]); // [n·V, H, W, C]
    let loss: number;
    let grads: tf.Tensor[];
    let embeddings: Float32Array;
    try {
      ({ loss, grads, embeddings } = shardGradients({
        encoder: this.encoder,
        head: this.head,
        inputs,
        labels,
        shard,
        config: this.config,
        params: this.params,
        allGather: (z) => this.collectives.allGather(z),
        ...(this.config.syncBatchNorm ? { syncBatchNorm: this.collectives } : {}),
        ...(this.queue ? { queue: this.queue } : {}),
        chunkRows: this.config.chunkRows,
        state: this.stateVariables().map((p) => p.variable),
      }));
    } finally {
      inputs.dispose();
    }
    this.reduceAndApply(grads, lr);
    if (this.queue) {
      // After the loss, as in one process: the gathered batch (the same bits on every rank) joins it.
      const q = this.queue;
      tf.tidy(() =>
        q.enqueue(
          tf.tensor3d(embeddings, [batch, views, embeddings.length / (batch * views)]), // [B, V, D]
          this.config.method === 'supcon' ? labels : undefined,
        ),
      );
    }
    return { loss };
  }

  /** Steps 4–5: one all-reduce carries the gradients and the BatchNorm buffers, then the update. */
  private reduceAndApply(grads: tf.Tensor[], lr: number): void {
    const size = this.collectives.size;
    const tensors = [...grads, ...this.buffers.map((b) => b.variable)];
    const flat = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
    let at = 0;
    for (const t of tensors) {
      flat.set(t.dataSync() as Float32Array, at);
      at += t.size;
    }
    tf.dispose(grads);
    const sum = this.collectives.allReduceSum(flat);
    check(sum.length === flat.length, 'allReduceSum', `${flat.length} values`, sum.length);
    tf.tidy(() => {
      at = 0;
      const take = (shape: number[], n: number) => {
        const t = tf.tensor(sum.subarray(at, at + n), shape, 'float32');
        at += n;
        return t;
      };
      const reduced = this.params.map((p) => take(p.variable.shape, p.variable.size));
      this.optimizer.step(this.params, reduced, lr);
      for (const b of this.buffers) b.variable.assign(tf.div(take(b.variable.shape, b.variable.size), size));
    });
  }
}
