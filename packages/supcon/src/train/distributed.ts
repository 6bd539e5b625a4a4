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
 * each step, so every worker keeps the same ones.
 *
 * The collectives are plain callbacks, so any transport fits; the all-gather runs inside the gradient
 * tape and must therefore be synchronous (blocking pipes between processes, SharedArrayBuffer and
 * Atomics.wait between threads). A transport that can only await would use the two-pass form of
 * gradient caching (gradcache.ts) instead, at the price of a second forward pass.
 *
 * @example
 *   const worker = new DataParallelTrainer({ config, encoder, head, data, collectives });
 *   while (!worker.position.done) worker.step(); // on every rank, in lockstep
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { createOptimizer } from '../optim/factory.js';
import { learningRate, type Schedule } from '../optim/schedule.js';
import type { Optimizer, Parameter } from '../optim/types.js';
import type { TrainConfig } from './config.js';
import { methodLoss } from './loss.js';
import type { Network } from './network.js';
import { batchesPerEpoch, batchIndices, epochOrder } from './sampler.js';
import type { MakeViews, StepRecord, TrainerOptions, TrainerState, TrainSet } from './trainer.js';

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
}

/**
 * Steps 1–3 for one worker: the full-batch loss and this shard's share of its gradient, one tensor per
 * parameter (zeros where the loss does not reach it). The caller disposes the gradients.
 */
export function shardGradients(options: ShardGradientsOptions): { loss: number; grads: tf.Tensor[] } {
  const { encoder, head, inputs, labels, shard, config, params } = options;
  const views = config.views;
  const batch = labels.length;
  const rows = (shard.end - shard.start) * views;
  check(inputs.shape[0] === rows, 'inputs', `${rows} rows (the shard's views)`, inputs.shape[0]);
  const variables = params.map((p) => p.variable);
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const local = head.apply(encoder.apply(inputs, true), true) as tf.Tensor2D; // [n·V, D]
      const dim = local.shape[1]!;
      const all = options.allGather(local.dataSync() as Float32Array); // [B·V·D], rank order
      check(all.length === batch * views * dim, 'allGather', `${batch * views * dim} values`, all.length);
      const parts: tf.Tensor2D[] = [];
      const detached = (from: number, to: number) =>
        tf.tensor2d(all.subarray(from * views * dim, to * views * dim), [(to - from) * views, dim]);
      if (shard.start > 0) parts.push(detached(0, shard.start)); // [start·V, D], no gradient
      parts.push(local); // [n·V, D], taped: the only rows the gradient reaches
      if (shard.end < batch) parts.push(detached(shard.end, batch)); // [(B−end)·V, D], no gradient
      const full = parts.length === 1 ? local : (tf.concat(parts, 0) as tf.Tensor2D); // [B·V, D]
      return methodLoss(config.method, full, labels, views, config);
    }, variables);
    const loss = value.dataSync()[0]!;
    return { loss, grads: variables.map((v) => grads[v.name] ?? tf.zerosLike(v)) };
  });
}

export interface DataParallelTrainerOptions extends TrainerOptions {
  collectives: Collectives;
}

/**
 * The Trainer's loop (same sampler, schedule, optimiser, records and state) for one rank of a
 * data-parallel group. Every rank sees the whole data set and derives the batch from (seed, epoch),
 * so only embeddings and gradients cross the transport.
 */
export class DataParallelTrainer {
  readonly config: TrainConfig;
  readonly encoder: Network;
  readonly head: Network;
  readonly collectives: Collectives;
  readonly stepsPerEpoch: number;
  readonly totalIterations: number;
  private readonly data: TrainSet;
  private readonly makeViews: MakeViews;
  private readonly viewShape: [number, number, number];
  private readonly optimizer: Optimizer;
  private readonly schedule: Schedule;
  private readonly params: Parameter[];
  /** Non-trainable variables (BatchNorm running statistics): averaged over ranks after each step. */
  private readonly buffers: Parameter[];
  private iteration = 0;
  private epochLoss = { sum: 0, steps: 0 };
  private order: { epoch: number; indices: Int32Array } | undefined;

  constructor(options: DataParallelTrainerOptions) {
    const { config, encoder, head, data, collectives } = options;
    check(
      data.count > 0 && data.labels.length === data.count,
      'data',
      'a non-empty set with one label per image',
      `${data.count} images, ${data.labels.length} labels`,
    );
    shardRange(Math.min(config.batchSize, data.count), collectives.rank, collectives.size);
    this.config = config;
    this.encoder = encoder;
    this.head = head;
    this.data = data;
    this.collectives = collectives;
    this.makeViews = options.makeViews ?? scaleOnly(data);
    this.viewShape = options.viewShape ?? [data.height, data.width, data.channels];
    this.stepsPerEpoch = batchesPerEpoch(data.count, config.batchSize);
    this.totalIterations = this.stepsPerEpoch * config.epochs;
    this.schedule = {
      baseLr: config.lr,
      totalIterations: this.totalIterations,
      decay: config.decay,
      warmupIterations: Math.round(config.warmupEpochs * this.stepsPerEpoch),
      minLr: config.minLr,
      milestones: config.milestones.map((e) => e * this.stepsPerEpoch),
      gamma: config.gamma,
      scaleWithBatch: config.scaleWithBatch,
      batchSize: config.batchSize,
    };
    this.optimizer = createOptimizer(config.optimizer);
    const named = (prefix: string, ps: Parameter[]) =>
      ps.map((p) => ({ name: `${prefix}/${p.name}`, variable: p.variable }));
    this.params = [...named('encoder', encoder.parameters()), ...named('head', head.parameters())];
    const trainable = new Set(this.params.map((p) => p.variable));
    this.buffers = this.allVariables().filter((p) => !trainable.has(p.variable));
  }

  get position(): { iteration: number; epoch: number; step: number; done: boolean } {
    const epoch = Math.floor(this.iteration / this.stepsPerEpoch);
    const step = this.iteration % this.stepsPerEpoch;
    return { iteration: this.iteration, epoch, step, done: this.iteration >= this.totalIterations };
  }

  get lr(): number {
    return learningRate(Math.min(this.iteration, this.totalIterations - 1), this.schedule);
  }

  /** One synchronous step on this rank's shard of the next batch; every rank must call it. */
  step(): StepRecord & { epochDone?: { loss: number } } {
    const started = performance.now();
    const { epoch, step, iteration } = this.position;
    check(
      iteration < this.totalIterations,
      'iteration',
      `< ${this.totalIterations} (training is done)`,
      iteration,
    );
    if (this.order?.epoch !== epoch)
      this.order = { epoch, indices: epochOrder(this.data.count, this.config.seed, epoch) };
    const indices = batchIndices(this.order.indices, step, this.config.batchSize); // [B]
    const batch = indices.length;
    const { views, seed } = this.config;
    const shard = shardRange(batch, this.collectives.rank, this.collectives.size);
    const local = indices.subarray(shard.start, shard.end); // [n] dataset indices of this shard
    const labels = Int32Array.from(indices, (i) => this.data.labels[i]!); // [B]
    const pixels = this.makeViews(gather(this.data, local), local.length, {
      views,
      seed,
      epoch,
      indices: local,
    });
    const lr = this.lr;
    const inputs = tf.tensor4d(pixels, [local.length * views, ...this.viewShape]); // [n·V, H, W, C]
    let loss: number;
    let grads: tf.Tensor[];
    try {
      ({ loss, grads } = shardGradients({
        encoder: this.encoder,
        head: this.head,
        inputs,
        labels,
        shard,
        config: this.config,
        params: this.params,
        allGather: (z) => this.collectives.allGather(z),
      }));
    } finally {
      inputs.dispose();
    }
    this.reduceAndApply(grads, lr);
    check(Number.isFinite(loss), 'loss', 'a finite value (lower the learning rate?)', loss);
    this.iteration++;
    this.epochLoss.sum += loss;
    this.epochLoss.steps++;
    const seconds = (performance.now() - started) / 1000;
    const record = {
      type: 'step' as const,
      epoch,
      step,
      iteration,
      loss,
      lr,
      imagesPerSecond: batch / seconds,
      seconds,
    };
    if (this.position.step !== 0) return record;
    const epochDone = { loss: this.epochLoss.sum / this.epochLoss.steps };
    this.epochLoss = { sum: 0, steps: 0 };
    return { ...record, epochDone };
  }

  /** Same layout as Trainer.state(), so checkpoints of either load into both. */
  state(): TrainerState {
    const variables: TrainerState['variables'] = {};
    for (const p of this.allVariables())
      variables[p.name] = {
        shape: [...p.variable.shape],
        values: p.variable.dataSync().slice() as Float32Array,
      };
    return {
      iteration: this.iteration,
      epochLoss: { ...this.epochLoss },
      variables,
      optimizer: this.optimizer.getState(),
    };
  }

  restore(state: TrainerState): void {
    for (const p of this.allVariables()) {
      const saved = state.variables[p.name];
      check(saved !== undefined, 'state.variables', `an entry for ${p.name}`, Object.keys(state.variables));
      check(
        saved.shape.join('x') === p.variable.shape.join('x'),
        `state.variables.${p.name}`,
        `shape [${p.variable.shape}]`,
        `[${saved.shape}]`,
      );
      p.variable.assign(tf.tensor(saved.values, saved.shape, 'float32'));
    }
    this.optimizer.setState(state.optimizer);
    this.iteration = state.iteration;
    this.epochLoss = { ...state.epochLoss };
  }

  dispose(): void {
    this.optimizer.dispose();
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

  private allVariables(): Parameter[] {
    return [
      ...this.encoder.variables().map((p) => ({ name: `encoder/${p.name}`, variable: p.variable })),
      ...this.head.variables().map((p) => ({ name: `head/${p.name}`, variable: p.variable })),
    ];
  }
}

function gather(data: TrainSet, indices: ArrayLike<number>): Uint8Array {
  const size = data.height * data.width * data.channels;
  const out = new Uint8Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    out.set(data.images.subarray(i * size, (i + 1) * size), k * size);
  }
  return out;
}

function scaleOnly(data: TrainSet): MakeViews {
  const size = data.height * data.width * data.channels;
  return (images, count, { views }) => {
    const out = new Float32Array(count * views * size);
    for (let i = 0; i < count; i++)
      for (let v = 0; v < views; v++)
        for (let j = 0; j < size; j++) out[(i * views + v) * size + j] = images[i * size + j]! / 255;
    return out;
  };
}
