/**
 * What every trainer shares, whether it runs one process (Trainer) or one rank of a data-parallel
 * group (DataParallelTrainer): the validated data, the sampler position, the learning-rate schedule,
 * the optimiser, the parameter names, the checkpoint state, and the loop: `step()` and `steps()`
 * build the step records and close each epoch the same way for both. A subclass writes only the
 * optimisation of one batch (`trainBatch`).
 *
 * The epoch protocol: the step that ends an epoch (its position's `step` is back at 0) also ends the
 * epoch's running sums (`epochLoss`, reset to zero there, so a checkpoint written at an epoch end
 * holds an empty epoch) and yields the EpochRecord: `steps()` hands it to `afterEpoch` right after
 * that step's `afterStep`. The epoch's `seconds` run from the start of its first step to the end of
 * its last (what the hooks do between epochs, such as a kNN monitor, is not counted).
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { FeatureQueue } from '../losses/queue.js';
import type { Network } from '../models/network.js';
import { createOptimizer } from '../optim/factory.js';
import { learningRate, type Schedule } from '../optim/schedule.js';
import type { Optimizer, Parameter } from '../optim/types.js';
import type { TrainConfig } from './config.js';
import { batchesPerEpoch, batchIndices, checkBalancedSampler, samplerOrder } from './sampler.js';
import type {
  EpochRecord,
  MakeViews,
  StepRecord,
  TrainerOptions,
  TrainerState,
  TrainHooks,
  TrainSet,
} from './trainer.js';

/** The next batch as `trainBatch` gets it: its position, its dataset indices [B] and learning rate. */
export interface Batch {
  epoch: number;
  step: number;
  iteration: number;
  indices: Int32Array;
  lr: number;
}

/** What `trainBatch` measured: the loss (finite) and, for ce and the joint probe, training top-1s. */
export interface BatchOutcome {
  loss: number;
  /** ce only: top-1 of the classifier on the batch's views (training mode, before the update). */
  accuracy?: number;
  /** jointProbe only: top-1 of the joint probe on the batch's views (before its update). */
  probeAccuracy?: number;
}

const QUEUE_ROWS = 'queue/rows';
const QUEUE_LABELS = 'queue/labels';

export abstract class TrainerBase {
  readonly config: TrainConfig;
  readonly encoder: Network;
  readonly head: Network;
  readonly stepsPerEpoch: number;
  readonly totalIterations: number;
  protected readonly data: TrainSet;
  protected readonly makeViews: MakeViews;
  protected readonly viewShape: [number, number, number];
  protected readonly optimizer: Optimizer;
  protected readonly schedule: Schedule;
  /** Trainable parameters, named `encoder/…` and `head/…`. */
  protected readonly params: Parameter[];
  /** Embeddings of earlier steps (config.queueSize > 0); on every rank of a data-parallel group alike. */
  readonly queue: FeatureQueue | undefined;
  protected iteration = 0;
  protected epochLoss: TrainerState['epochLoss'] = { sum: 0, steps: 0 };
  private order: { epoch: number; indices: Int32Array } | undefined;
  /** When the current epoch's first step started (performance.now()); unset between epochs. */
  private epochStarted: number | undefined;

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
    if (config.sampler === 'balanced')
      checkBalancedSampler(data.labels, config.batchSize, config.samplesPerClass ?? 0);
    check(
      config.jointProbe !== true || this.trainsJointProbe,
      'jointProbe',
      'false for this trainer (the joint probe is trained by the single-process Trainer only)',
      config.jointProbe,
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
    this.params = [...named('encoder', encoder.parameters()), ...named('head', head.parameters())];
    this.queue =
      config.queueSize > 0
        ? new FeatureQueue({ capacity: config.queueSize, dim: head.outputDim })
        : undefined;
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

  state(): TrainerState {
    const variables: TrainerState['variables'] = {};
    for (const p of this.allVariables()) {
      variables[p.name] = {
        shape: [...p.variable.shape],
        values: p.variable.dataSync().slice() as Float32Array,
      };
    }
    this.saveExtra(variables);
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
    this.restoreExtra(state.variables, state.iteration);
    if (this.queue) {
      const rows = state.variables[QUEUE_ROWS];
      const labels = state.variables[QUEUE_LABELS];
      if (rows && labels) this.queue.restore({ rows: rows.values, labels: Int32Array.from(labels.values) });
      else this.queue.clear();
    }
    this.iteration = state.iteration;
    this.epochLoss = { ...state.epochLoss };
    this.epochStarted = undefined;
  }

  dispose(): void {
    this.optimizer.dispose();
  }

  /** Whether this trainer can train `config.jointProbe` (the single-process Trainer can). */
  protected get trainsJointProbe(): boolean {
    return false;
  }

  /** Entries a subclass adds to `state().variables` (e.g. the joint probe). */
  protected saveExtra(_variables: TrainerState['variables']): void {}

  /** Reads back what `saveExtra` wrote. */
  protected restoreExtra(_variables: TrainerState['variables'], _iteration: number): void {}

  /**
   * One optimisation step on the next batch (every rank of a data-parallel group calls it together).
   * When the step ends an epoch it also closes the epoch (see the top of this file); `steps()` reports
   * that epoch's record.
   */
  step(): StepRecord {
    return this.advance().record;
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
    while (!this.position.done) {
      const { record, epoch } = this.advance();
      hooks.afterStep?.(record);
      if (epoch) hooks.afterEpoch?.(epoch);
      yield record;
      if (hooks.stop?.()) return;
    }
  }

  /** Optimises one batch (the subclass's step: views, forward, loss, gradients, update). */
  protected abstract trainBatch(batch: Batch): BatchOutcome;

  /** One step and, when it ends an epoch, that epoch's record. */
  private advance(): { record: StepRecord; epoch?: EpochRecord } {
    const started = performance.now();
    this.epochStarted ??= started;
    const { epoch, step, iteration, indices } = this.nextBatch(); // indices [B]
    const lr = this.lr;
    const { loss, accuracy, probeAccuracy } = this.trainBatch({ epoch, step, iteration, indices, lr });
    check(Number.isFinite(loss), 'loss', 'a finite value (lower the learning rate?)', loss);
    this.iteration++;
    this.epochLoss.sum += loss;
    this.epochLoss.steps++;
    if (accuracy !== undefined) this.epochLoss.accuracySum = (this.epochLoss.accuracySum ?? 0) + accuracy;
    if (probeAccuracy !== undefined)
      this.epochLoss.probeAccuracySum = (this.epochLoss.probeAccuracySum ?? 0) + probeAccuracy;
    const ended = performance.now();
    const seconds = (ended - started) / 1000;
    const record: StepRecord = {
      type: 'step',
      epoch,
      step,
      iteration,
      loss,
      lr,
      imagesPerSecond: indices.length / seconds,
      seconds,
    };
    if (accuracy !== undefined) record.accuracy = accuracy;
    if (probeAccuracy !== undefined) record.probeAccuracy = probeAccuracy;
    if (this.position.step !== 0) return { record };
    const { sum, steps, accuracySum, probeAccuracySum } = this.epochLoss;
    this.epochLoss = { sum: 0, steps: 0 };
    const done: EpochRecord = {
      type: 'epoch',
      epoch,
      iteration: this.iteration,
      loss: sum / steps,
      seconds: (ended - this.epochStarted) / 1000,
    };
    this.epochStarted = undefined;
    if (accuracySum !== undefined) done.accuracy = accuracySum / steps;
    if (probeAccuracySum !== undefined) done.probeAccuracy = probeAccuracySum / steps;
    return { record, epoch: done };
  }

  /** The next batch: its position and its dataset indices [B]. Throws when training is done. */
  private nextBatch(): { epoch: number; step: number; iteration: number; indices: Int32Array } {
    const { epoch, step, iteration } = this.position;
    check(
      iteration < this.totalIterations,
      'iteration',
      `< ${this.totalIterations} (training is done)`,
      iteration,
    );
    if (this.order?.epoch !== epoch)
      this.order = { epoch, indices: samplerOrder(this.config, this.data.labels, epoch) };
    return { epoch, step, iteration, indices: batchIndices(this.order.indices, step, this.config.batchSize) };
  }

  /** Every variable (trainable and state), named `encoder/…` and `head/…`. */
  protected allVariables(): Parameter[] {
    return [...named('encoder', this.encoder.variables()), ...named('head', this.head.variables())];
  }

  /** Variables the forward updates but the optimiser does not (BatchNorm running statistics). */
  protected stateVariables(): Parameter[] {
    const trainable = new Set(this.params.map((p) => p.variable));
    return this.allVariables().filter((p) => !trainable.has(p.variable));
  }
}

function named(prefix: string, ps: Parameter[]): Parameter[] {
  return ps.map((p) => ({ name: `${prefix}/${p.name}`, variable: p.variable }));
}

/** The images at `indices`, one after another [n, H, W, C]. */
export function gatherImages(data: TrainSet, indices: ArrayLike<number>): Uint8Array {
  const size = data.height * data.width * data.channels;
  const out = new Uint8Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    out.set(data.images.subarray(i * size, (i + 1) * size), k * size);
  }
  return out;
}

/** The default views: scaled to [0, 1] and repeated `views` times (no augmentation). */
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
