/**
 * One trainer for SupCon, SimCLR and cross-entropy. A step strings the stages of one training step
 * together (docs/training.md, "The data flow of one step"):
 *   sampler (epochOrder) → gather images → views (augmentation) → encoder → head → loss (methodLoss)
 *   → gradients → optimiser → schedule (learningRate) → metrics record (sink).
 * Checkpointing and evaluation are done by the caller between steps, from `state()` and `encoder`.
 *
 * @example
 *   const trainer = new Trainer({ config: resolveConfig({ method: 'supcon', epochs: 1 }), encoder, head, data });
 *   trainer.run({ afterStep: (r) => console.log(r.loss) });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Network } from '../models/network.js';
import type { OptimizerState } from '../optim/types.js';
import { type Batch, type BatchOutcome, gatherImages, TrainerBase } from './base.js';
import type { TrainConfig } from './config.js';
import { cachedGradients } from './gradcache.js';
import { variableGrads } from './grads.js';
import { JointProbe } from './joint-probe.js';
import { methodLoss } from './loss.js';
import { dominantLabels, drawMix, mixImages } from './mix.js';
import { MomentumEncoder } from './momentum.js';

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
  /** ce only: top-1 of the classifier on this step's views (training mode, before the update). */
  accuracy?: number;
  /** jointProbe only: top-1 of the joint probe on this step's views (before its update). */
  probeAccuracy?: number;
}

export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  iteration: number;
  /** Mean training loss over the epoch's steps. */
  loss: number;
  seconds: number;
  /** ce only: mean of the steps' training top-1 (every batch has the same size). */
  accuracy?: number;
  /** jointProbe only: mean of the steps' training top-1 of the joint probe. */
  probeAccuracy?: number;
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
  /** Classes of the labels (the joint probe's outputs); default the largest label + 1. */
  classes?: number;
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
  /** The epoch so far: summed step losses, steps, and (ce) summed step accuracies. */
  epochLoss: { sum: number; steps: number; accuracySum?: number; probeAccuracySum?: number };
  variables: Record<string, { shape: number[]; values: Float32Array }>;
  optimizer: OptimizerState;
}

export class Trainer extends TrainerBase {
  /** The linear classifier trained on the detached encoder features (config.jointProbe). */
  readonly jointProbe: JointProbe | undefined;
  /** The momentum (key) encoder that fills the memory queue (config.queueMomentum). */
  readonly keyEncoder: MomentumEncoder | undefined;

  constructor(options: TrainerOptions) {
    super(options);
    const { config, encoder, data } = options;
    this.jointProbe = config.jointProbe
      ? new JointProbe({
          dim: encoder.outputDim,
          classes: options.classes ?? Math.max(...data.labels) + 1,
          seed: config.seed,
          totalIterations: this.totalIterations,
        })
      : undefined;
    this.keyEncoder =
      config.queueMomentum !== undefined
        ? new MomentumEncoder({ encoder, head: options.head }, config.queueMomentum)
        : undefined;
  }

  protected override get trainsJointProbe(): boolean {
    return true;
  }

  /** One step of the single process: the whole batch's views, forward, loss, gradients, update. */
  protected override trainBatch({ epoch, iteration, indices, lr }: Batch): BatchOutcome {
    const { views, method } = this.config;
    const batch = indices.length;
    const images = gatherImages(this.data, indices); // [B, H, W, C] uint8
    const labels = Int32Array.from(indices, (i) => this.data.labels[i]!); // [B]
    const pixels = this.makeViews(images, batch, { views, seed: this.config.seed, epoch, indices });
    const rows = batch * views;
    // ce: mixup/cutmix of this batch (mix.ts), a pure function of (seed, iteration); undefined: unmixed.
    const [height, width] = this.viewShape;
    const mix = drawMix(this.config, { seed: this.config.seed, iteration, batch, height, width });
    const { loss, accuracy, probeAccuracy } = tf.tidy(() => {
      const views4d = tf.tensor4d(pixels, [rows, ...this.viewShape]); // [B·V, H, W, C], sample-major
      const x = mix ? mixImages(views4d, mix, views) : views4d; // [B·V, H, W, C]
      const variables = this.params.map((p) => p.variable);
      // The joint probe's features: copies of the encoder's outputs of the first forward of every row
      // (gradient caching forwards each chunk twice), off the path to the loss, so no gradient.
      const features: tf.Tensor2D[] = [];
      let captured = 0;
      const forward = (input: tf.Tensor) => {
        const r = this.encoder.apply(input, true) as tf.Tensor2D; // [n, E]
        if (this.jointProbe && captured < rows) {
          features.push(tf.keep(tf.clone(r)));
          captured += r.shape[0];
        }
        return this.head.apply(r, true) as tf.Tensor2D; // [n, D]
      };
      const lossOf = (output: tf.Tensor2D) =>
        methodLoss(method, output, labels, views, mix ? { ...this.config, mix } : this.config, this.queue);
      let embeddings: tf.Tensor2D | undefined; // [B·V, D], for the queue
      let correct: tf.Scalar | undefined; // ce: views classified right
      const scored = (output: tf.Tensor2D) => {
        // A mixed batch counts each view against its dominant label (λ ≥ ½: its own).
        const counted = mix ? dominantLabels(labels, mix) : labels; // [B]
        if (method === 'ce') correct = tf.keep(correctCount(output, counted, views));
        return lossOf(output);
      };
      const chunk = this.config.chunkRows;
      const { value, grads } =
        chunk > 0 && chunk < batch * views
          ? cachedGradients({
              forward,
              loss: (output) => {
                if (this.queue) embeddings = tf.keep(tf.clone(output));
                return scored(output);
              },
              inputs: x,
              chunkRows: chunk,
              variables,
              state: this.stateVariables().map((p) => p.variable),
            })
          : variableGrads(() => {
              const output = forward(x); // [B·V, D] embeddings or logits
              if (this.queue) embeddings = tf.keep(tf.clone(output));
              return scored(output);
            }, variables);
      this.optimizer.step(
        this.params,
        variables.map((v) => grads[v.name]!),
        lr,
      );
      if (this.queue && embeddings) {
        // After the loss: this step's rows join the queue for the next steps; with a key encoder,
        // its embeddings of the same views after this step's EMA update (MoCo) instead of ours.
        let rowsIn: tf.Tensor = embeddings; // [B·V, D]
        if (this.keyEncoder) {
          this.keyEncoder.update();
          rowsIn = this.keyEncoder.apply(() => this.head.apply(this.encoder.apply(x, true), true)); // [B·V, D]
          embeddings.dispose();
        }
        this.queue.enqueue(tf.reshape(rowsIn, [batch, views, -1]), method === 'supcon' ? labels : undefined);
        rowsIn.dispose();
      }
      let probe: number | undefined;
      if (this.jointProbe) {
        const r = features.length === 1 ? features[0]! : (tf.concat(features, 0) as tf.Tensor2D); // [B·V, E]
        probe = this.jointProbe.step(r, perView(labels, views), iteration).accuracy;
        tf.dispose(features);
      }
      const right = correct?.dataSync()[0];
      correct?.dispose();
      return {
        loss: value.dataSync()[0]!,
        accuracy: right === undefined ? undefined : right / (batch * views),
        probeAccuracy: probe,
      };
    });
    const outcome: BatchOutcome = { loss };
    if (accuracy !== undefined) outcome.accuracy = accuracy;
    if (probeAccuracy !== undefined) outcome.probeAccuracy = probeAccuracy;
    return outcome;
  }

  override dispose(): void {
    super.dispose();
    this.jointProbe?.dispose();
    this.keyEncoder?.dispose();
  }

  protected override saveExtra(variables: TrainerState['variables']): void {
    this.jointProbe?.save(variables);
    this.keyEncoder?.save(variables);
  }

  protected override restoreExtra(variables: TrainerState['variables'], iteration: number): void {
    this.jointProbe?.restore(variables, iteration);
    this.keyEncoder?.restore(variables);
  }
}

/** The label of every view [B·V], sample-major. */
function perView(labels: Int32Array, views: number): Int32Array {
  return Int32Array.from({ length: labels.length * views }, (_, i) => labels[Math.floor(i / views)]!);
}

/** Views whose largest logit is their sample's label: output [B·V, C] logits, sample-major. */
function correctCount(output: tf.Tensor2D, labels: Int32Array, views: number): tf.Scalar {
  const perView = tf.tensor1d(
    Int32Array.from({ length: labels.length * views }, (_, i) => labels[Math.floor(i / views)]!),
    'int32',
  ); // [B·V]
  return tf.sum(tf.cast(tf.equal(tf.argMax(output, 1), perView), 'float32')); // []
}
