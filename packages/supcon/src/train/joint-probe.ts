/**
 * The joint probe (the paper's appendix; solo-learn's "online linear evaluation"): a linear
 * classifier trained in the same step as the encoder, on the encoder's features of the step's
 * augmented views with the step's labels, softmax cross-entropy. The features are detached: they are
 * copies taken during the encoder's forward, and the probe's gradient is taken on its own tape over
 * its own two variables, so the encoder's gradient (and with it every weight of the encoder and head)
 * is exactly what it is without the probe.
 *
 * The probe is `supcon linear`'s kind, so it is written in the same probe.json format:
 *   z = (r − μ) / σ,  logits = z·W + b,  W [D, C], b [C]
 * with μ, σ running statistics of the features (exponential average, momentum 0.1, starting from the
 * first batch's; σ = √var + 1e-6 as the separate probe's), used both while training and in the kept
 * probe, so the kept probe computes exactly what was trained. Its optimiser is the separate probe's:
 * Adam at lr 0.01 (LINEAR_PROBE_DEFAULTS.lr), cosine to 0 over the run's iterations, L2 weight decay
 * 1e-4 on W (coupled, bias excluded), W initialised N(0, 0.01²) from the run's seed.
 * How it differs from the separate probe: it sees augmented views of an encoder that is still
 * changing, the separate one clean images of the final encoder (and picks its weight decay on
 * validation), so the joint probe is usually a little below it; it costs nothing after training.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LinearProbe } from '../eval/linear.js';
import { LINEAR_PROBE_DEFAULTS } from '../eval/linear.js';
import { createOptimizer } from '../optim/factory.js';
import { learningRate } from '../optim/schedule.js';
import type { Optimizer, Parameter } from '../optim/types.js';

export const JOINT_PROBE_DEFAULTS = {
  lr: LINEAR_PROBE_DEFAULTS.lr,
  weightDecay: 1e-4,
  /** Weight of the newest batch in the running feature statistics. */
  statisticsMomentum: 0.1,
} as const;

type Entries = Record<string, { shape: number[]; values: Float32Array }>;

const PREFIX = 'probe/';

export class JointProbe {
  readonly dim: number;
  readonly classes: number;
  private readonly kernel: tf.Variable<tf.Rank.R2>; // [D, C]
  private readonly bias: tf.Variable<tf.Rank.R1>; // [C]
  private readonly mean: tf.Variable<tf.Rank.R1>; // [D]
  private readonly variance: tf.Variable<tf.Rank.R1>; // [D]
  private readonly optimizer: Optimizer;
  private readonly params: Parameter[];
  private readonly totalIterations: number;
  /** Training top-1 of the last finished step (NaN before one). */
  lastAccuracy = Number.NaN;

  constructor(options: { dim: number; classes: number; seed: number; totalIterations: number }) {
    const { dim, classes, seed } = options;
    this.dim = dim;
    this.classes = classes;
    this.totalIterations = options.totalIterations;
    // tfjs treats seed 0 as "no seed" (Math.random), hence the offset (as the separate probe's + 1).
    this.kernel = tf.variable(tf.randomNormal([dim, classes], 0, 0.01, 'float32', (seed >>> 0) + 1), true);
    this.bias = tf.variable(tf.zeros<tf.Rank.R1>([classes]), true);
    this.mean = tf.variable(tf.zeros<tf.Rank.R1>([dim]), false);
    this.variance = tf.variable(tf.ones<tf.Rank.R1>([dim]), false);
    this.params = [
      { name: `${PREFIX}kernel`, variable: this.kernel },
      { name: `${PREFIX}bias`, variable: this.bias },
    ];
    this.optimizer = createOptimizer({ kind: 'adam', weightDecay: JOINT_PROBE_DEFAULTS.weightDecay });
  }

  /**
   * One update on detached features [R, D] with their labels [R] (one per view); returns the loss
   * and the top-1 before the update. `iteration` is the trainer's (the first sets the statistics).
   */
  step(features: tf.Tensor2D, labels: Int32Array, iteration: number): { loss: number; accuracy: number } {
    return tf.tidy(() => {
      const x = features; // [R, D], a copy off the encoder's tape (the probe's tape starts below)
      const batchMean = tf.mean(x, 0) as tf.Tensor1D; // [D]
      const batchVar = tf.mean(tf.square(tf.sub(x, batchMean)), 0) as tf.Tensor1D; // [D]
      const mu = JOINT_PROBE_DEFAULTS.statisticsMomentum;
      const ema = (old: tf.Tensor1D, now: tf.Tensor1D) => tf.add(tf.mul(old, 1 - mu), tf.mul(now, mu));
      this.mean.assign(iteration === 0 ? batchMean : (ema(this.mean, batchMean) as tf.Tensor1D));
      this.variance.assign(iteration === 0 ? batchVar : (ema(this.variance, batchVar) as tf.Tensor1D));
      const z = tf.div(tf.sub(x, this.mean), tf.add(tf.sqrt(this.variance), 1e-6)) as tf.Tensor2D; // [R, D]
      const target = tf.oneHot(tf.tensor1d(labels, 'int32'), this.classes); // [R, C]
      const logitsOf = () => tf.add(tf.matMul(z, this.kernel), this.bias) as tf.Tensor2D; // [R, C]
      const right = tf.sum(
        tf.cast(tf.equal(tf.argMax(logitsOf(), 1), tf.tensor1d(labels, 'int32')), 'float32'),
      );
      const { value, grads } = tf.variableGrads(
        () => tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logitsOf())), 1))) as tf.Scalar,
        [this.kernel, this.bias],
      );
      const lr = learningRate(Math.min(iteration, this.totalIterations - 1), {
        baseLr: JOINT_PROBE_DEFAULTS.lr,
        totalIterations: this.totalIterations,
        decay: 'cosine',
      });
      this.optimizer.step(
        this.params,
        this.params.map((p) => grads[p.variable.name]!),
        lr,
      );
      const accuracy = right.dataSync()[0]! / labels.length;
      this.lastAccuracy = accuracy;
      return { loss: value.dataSync()[0]!, accuracy };
    });
  }

  /** The probe as `fitLinearProbe` returns one (validation top-1 NaN: the caller measures it). */
  linearProbe(trainAccuracy = this.lastAccuracy): LinearProbe {
    const std = tf.tidy(() => tf.add(tf.sqrt(this.variance), 1e-6).dataSync() as Float32Array);
    return {
      dim: this.dim,
      classes: this.classes,
      mean: this.mean.dataSync().slice() as Float32Array,
      std: std.slice(),
      weights: this.kernel.dataSync().slice() as Float32Array,
      bias: this.bias.dataSync().slice() as Float32Array,
      weightDecay: JOINT_PROBE_DEFAULTS.weightDecay,
      trainAccuracy,
      validationAccuracy: Number.NaN,
    };
  }

  /** Its weights, statistics and Adam moments, as entries `probe/…` of a trainer state. */
  save(entries: Entries): void {
    for (const [name, v] of [
      ['kernel', this.kernel],
      ['bias', this.bias],
      ['mean', this.mean],
      ['variance', this.variance],
    ] as const)
      entries[`${PREFIX}${name}`] = { shape: [...v.shape], values: v.dataSync().slice() as Float32Array };
    for (const [key, slot] of Object.entries(this.optimizer.getState().slots))
      entries[`${PREFIX}optimizer/${key}`] = slot;
  }

  /** Reads back what `save` wrote; `iteration` (the trainer's) is the number of updates so far. */
  restore(entries: Entries, iteration: number): void {
    for (const [name, v] of [
      ['kernel', this.kernel],
      ['bias', this.bias],
      ['mean', this.mean],
      ['variance', this.variance],
    ] as const) {
      const saved = entries[`${PREFIX}${name}`];
      if (!saved)
        throw new Error(`The trainer state has no entry ${PREFIX}${name} (a run without jointProbe?).`);
      (v as tf.Variable).assign(tf.tensor(saved.values, saved.shape, 'float32'));
    }
    const slots: Entries = {};
    const at = `${PREFIX}optimizer/`;
    for (const [key, slot] of Object.entries(entries))
      if (key.startsWith(at)) slots[key.slice(at.length)] = slot;
    this.optimizer.setState({ kind: this.optimizer.kind, step: iteration, slots });
  }

  dispose(): void {
    this.optimizer.dispose();
    tf.dispose([this.kernel, this.bias, this.mean, this.variance]);
  }
}

/**
 * The joint probe kept in a trainer state's entries (a checkpoint of a run trained with jointProbe),
 * as the trainer's `jointProbe.linearProbe()` gives it; undefined when the state has none.
 */
export function jointProbeOf(entries: Entries, trainAccuracy = Number.NaN): LinearProbe | undefined {
  const get = (name: string) => entries[`${PREFIX}${name}`];
  const [kernel, bias, mean, variance] = ['kernel', 'bias', 'mean', 'variance'].map(get);
  if (!kernel || !bias || !mean || !variance) return undefined;
  const std = tf.tidy(() => tf.add(tf.sqrt(tf.tensor1d(variance.values)), 1e-6).dataSync() as Float32Array);
  return {
    dim: kernel.shape[0]!,
    classes: kernel.shape[1]!,
    mean: mean.values.slice(),
    std: std.slice(),
    weights: kernel.values.slice(),
    bias: bias.values.slice(),
    weightDecay: JOINT_PROBE_DEFAULTS.weightDecay,
    trainAccuracy,
    validationAccuracy: Number.NaN,
  };
}
