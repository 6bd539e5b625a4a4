/**
 * One trainer for SupCon, SimCLR and cross-entropy. A step strings the stages of DESIGN.md together:
 *   sampler (epochOrder) → gather images → views (augmentation) → encoder → head → loss (methodLoss)
 *   → gradients → optimiser → schedule (learningRate) → metrics record (sink).
 * Checkpointing and evaluation are done by the caller between steps, from `state()` and `encoder`.
 *
 * @example
 *   const trainer = new Trainer({ config: resolveConfig({ method: 'supcon', epochs: 1 }), encoder, head, data });
 *   trainer.run({ afterStep: (r) => console.log(r.loss) });
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { FeatureQueue } from '../losses/queue.js';
import { createOptimizer } from '../optim/factory.js';
import { learningRate, type Schedule } from '../optim/schedule.js';
import type { Optimizer, OptimizerState, Parameter } from '../optim/types.js';
import type { TrainConfig } from './config.js';
import { cachedGradients } from './gradcache.js';
import { methodLoss } from './loss.js';
import type { Network } from './network.js';
import { batchesPerEpoch, batchIndices, epochOrder } from './sampler.js';

/** Training images: uint8 NHWC (as datasets load them) and one label per image. */
export interface TrainSet {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** Augmentation: `count` gathered images → `[count, views, H', W', C']` floats (sample-major). */
export type MakeViews = (
  images: Uint8Array,
  count: number,
  options: { views: number; seed: number; epoch: number; indices: ArrayLike<number> },
) => Float32Array;

export interface StepRecord {
  type: 'step';
  epoch: number;
  step: number;
  iteration: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
  seconds: number;
}

export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  iteration: number;
  /** Mean training loss over the epoch's steps. */
  loss: number;
  seconds: number;
}

export interface TrainerOptions {
  config: TrainConfig;
  encoder: Network;
  /** Projection head (supcon, simclr) or linear classifier (ce). */
  head: Network;
  data: TrainSet;
  /** Default: scale to [0, 1] and repeat each image `views` times (no augmentation). */
  makeViews?: MakeViews;
  /** Shape of one view [H, W, C]; default the image shape. */
  viewShape?: [number, number, number];
}

export interface TrainHooks {
  afterStep?: (r: StepRecord) => void;
  afterEpoch?: (r: EpochRecord) => void;
  /** Asked after each step (and its hooks): true ends the loop. */
  stop?: () => boolean;
}

/** Everything needed to continue a run exactly: weights, optimiser slots, position, epoch loss so far. */
export interface TrainerState {
  iteration: number;
  epochLoss: { sum: number; steps: number };
  variables: Record<string, { shape: number[]; values: Float32Array }>;
  optimizer: OptimizerState;
}

const QUEUE_ROWS = 'queue/rows';
const QUEUE_LABELS = 'queue/labels';

export class Trainer {
  readonly config: TrainConfig;
  readonly encoder: Network;
  readonly head: Network;
  readonly stepsPerEpoch: number;
  readonly totalIterations: number;
  private readonly data: TrainSet;
  private readonly makeViews: MakeViews;
  private readonly viewShape: [number, number, number];
  private readonly optimizer: Optimizer;
  private readonly schedule: Schedule;
  private readonly params: Parameter[];
  /** Embeddings of earlier steps (config.queueSize > 0). */
  readonly queue: FeatureQueue | undefined;
  private iteration = 0;
  private epochLoss = { sum: 0, steps: 0 };
  private order: { epoch: number; indices: Int32Array } | undefined;

  constructor(options: TrainerOptions) {
    const { config, encoder, head, data } = options;
    check(
      data.count > 0 && data.labels.length === data.count,
      'data',
      'a non-empty set with one label per image',
      `${data.count} images, ${data.labels.length} labels`,
    );
    check(
      data.images.length === data.count * data.height * data.width * data.channels,
      'data.images',
      `${data.count}×${data.height}×${data.width}×${data.channels} bytes`,
      `${data.images.length} bytes`,
    );
    this.config = config;
    this.encoder = encoder;
    this.head = head;
    this.data = data;
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
    this.queue =
      config.queueSize > 0
        ? new FeatureQueue({ capacity: config.queueSize, dim: head.outputDim })
        : undefined;
    this.params = [
      ...encoder.parameters().map((p) => ({ name: `encoder/${p.name}`, variable: p.variable })),
      ...head.parameters().map((p) => ({ name: `head/${p.name}`, variable: p.variable })),
    ];
  }

  get position(): { iteration: number; epoch: number; step: number; done: boolean } {
    const epoch = Math.floor(this.iteration / this.stepsPerEpoch);
    const step = this.iteration % this.stepsPerEpoch;
    return { iteration: this.iteration, epoch, step, done: this.iteration >= this.totalIterations };
  }

  /** The learning rate of the next step. */
  get lr(): number {
    return learningRate(Math.min(this.iteration, this.totalIterations - 1), this.schedule);
  }

  /** One optimisation step on the next batch. */
  step(): StepRecord {
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
    const { views, method } = this.config;
    const batch = indices.length;
    const images = gather(this.data, indices); // [B, H, W, C] uint8
    const labels = Int32Array.from(indices, (i) => this.data.labels[i]!); // [B]
    const pixels = this.makeViews(images, batch, { views, seed: this.config.seed, epoch, indices });
    const lr = this.lr;
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(pixels, [batch * views, ...this.viewShape]); // [B·V, H, W, C], sample-major
      const variables = this.params.map((p) => p.variable);
      const forward = (input: tf.Tensor) =>
        this.head.apply(this.encoder.apply(input, true), true) as tf.Tensor2D; // [n, D]
      const lossOf = (output: tf.Tensor2D) =>
        methodLoss(method, output, labels, views, this.config, this.queue);
      let embeddings: tf.Tensor2D | undefined; // [B·V, D], for the queue
      const chunk = this.config.chunkRows;
      const { value, grads } =
        chunk > 0 && chunk < batch * views
          ? cachedGradients({
              forward,
              loss: (output) => {
                if (this.queue) embeddings = tf.keep(tf.clone(output));
                return lossOf(output);
              },
              inputs: x,
              chunkRows: chunk,
              variables,
              state: this.stateVariables(),
            })
          : tf.variableGrads(() => {
              const output = forward(x); // [B·V, D] embeddings or logits
              if (this.queue) embeddings = tf.keep(tf.clone(output));
              return lossOf(output);
            }, variables);
      this.optimizer.step(
        this.params,
        variables.map((v) => grads[v.name]!),
        lr,
      );
      if (this.queue && embeddings) {
        // After the loss: this step's rows join the queue for the next steps.
        this.queue.enqueue(
          tf.reshape(embeddings, [batch, views, -1]),
          method === 'supcon' ? labels : undefined,
        );
        embeddings.dispose();
      }
      return value.dataSync()[0]!;
    });
    check(Number.isFinite(loss), 'loss', 'a finite value (lower the learning rate?)', loss);
    this.iteration++;
    this.epochLoss.sum += loss;
    this.epochLoss.steps++;
    const seconds = (performance.now() - started) / 1000;
    return { type: 'step', epoch, step, iteration, loss, lr, imagesPerSecond: batch / seconds, seconds };
  }

  /**
   * Trains to the end (or until `stop` returns true after a step), calling the hooks between steps;
   * checkpoints and evaluations belong in the hooks.
   */
  run(hooks: TrainHooks = {}): void {
    for (const _ of this.steps(hooks)) {
      // every step's work happens inside the generator
    }
  }

  /**
   * The loop of `run` as a generator that yields after each step (after its hooks, before `stop` is
   * asked), so a caller can await between steps: signal handlers and I/O get their turn.
   */
  *steps(hooks: TrainHooks = {}): Generator<StepRecord, void> {
    let epochStart = performance.now();
    while (!this.position.done) {
      const record = this.step();
      hooks.afterStep?.(record);
      if (this.position.step === 0) {
        const { sum, steps } = this.epochLoss;
        this.epochLoss = { sum: 0, steps: 0 };
        const seconds = (performance.now() - epochStart) / 1000;
        hooks.afterEpoch?.({
          type: 'epoch',
          epoch: record.epoch,
          iteration: this.iteration,
          loss: sum / steps,
          seconds,
        });
        epochStart = performance.now();
      }
      yield record;
      if (hooks.stop?.()) return;
    }
  }

  state(): TrainerState {
    const variables: TrainerState['variables'] = {};
    for (const p of this.allVariables()) {
      variables[p.name] = {
        shape: [...p.variable.shape],
        values: p.variable.dataSync().slice() as Float32Array,
      };
    }
    if (this.queue) {
      // The queue travels with the weights (labels as exact small floats) so a resume is exact.
      const q = this.queue.state();
      variables[QUEUE_ROWS] = { shape: [q.labels.length, this.queue.dim], values: q.rows };
      variables[QUEUE_LABELS] = { shape: [q.labels.length], values: Float32Array.from(q.labels) };
    }
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
    if (this.queue) {
      const rows = state.variables[QUEUE_ROWS];
      const qLabels = state.variables[QUEUE_LABELS];
      if (rows && qLabels) this.queue.restore({ rows: rows.values, labels: Int32Array.from(qLabels.values) });
      else this.queue.clear();
    }
    this.iteration = state.iteration;
    this.epochLoss = { ...state.epochLoss };
  }

  dispose(): void {
    this.optimizer.dispose();
  }

  /** Variables the forward updates but the optimiser does not (BatchNorm running statistics). */
  private stateVariables(): tf.Variable[] {
    const trainable = new Set(this.params.map((p) => p.variable));
    return this.allVariables()
      .map((p) => p.variable)
      .filter((v) => !trainable.has(v));
  }

  private allVariables(): Parameter[] {
    return [
      ...this.encoder.variables().map((p) => ({ name: `encoder/${p.name}`, variable: p.variable })),
      ...this.head.variables().map((p) => ({ name: `head/${p.name}`, variable: p.variable })),
    ];
  }
}

function gather(data: TrainSet, indices: Int32Array): Uint8Array {
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
    for (let i = 0; i < count; i++) {
      for (let v = 0; v < views; v++) {
        const base = (i * views + v) * size;
        for (let j = 0; j < size; j++) out[base + j] = images[i * size + j]! / 255;
      }
    }
    return out;
  };
}
