/**
 * Small models for 28×28 inputs (Fashion-MNIST, MNIST) and the heads every method needs:
 *   - smallResNet: a 3×3 stem and three stages of BasicBlocks (widths w, 2w, 4w; strides 1, 2, 2):
 *     [B, 28, 28, C] → [B, 28, 28, w] → [B, 14, 14, 2w] → [B, 7, 7, 4w] → global average pool [B, 4w];
 *   - mlpEncoder: flatten → (Linear → BatchNorm → ReLU) × n, for the pure-JS backends where
 *     convolutions are too slow to train in minutes;
 *   - projectionHead: SupCon's MLP (Linear → ReLU → Linear to 128) or a linear one, optionally
 *     L2-normalising the encoder output first; the output is L2-normalised (the loss does not);
 *   - linearClassifier: the cross-entropy head and the linear-probe shape.
 * All return the trainer's `Network` shape with stable parameter names.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import type { Parameter } from '../optim/types.js';
import { type BatchNormParams, batchNorm } from './batch_norm.js';
import { type Network, uniqueScope } from './network.js';
import { l2NormalizeRows } from './normalize.js';
import { globalAvgPool } from './pool.js';

/** Seeds for initialisers, derived deterministically from one seed. */
function seeds(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s || 1; // tfjs treats seed 0 as "no seed" (Math.random)
  };
}

class Vars {
  readonly trainable: Parameter[] = [];
  readonly all: Parameter[] = [];
  constructor(private readonly scope: string) {}
  add(name: string, value: tf.Tensor, trainable = true): tf.Variable {
    const variable = tf.variable(value, trainable, `${this.scope}/${name}`);
    value.dispose();
    const p = { name, variable };
    if (trainable) this.trainable.push(p);
    this.all.push(p);
    return variable;
  }
  batchNorm(name: string, channels: number): BatchNormParams {
    return {
      gamma: this.add(`${name}/gamma`, tf.ones([channels])),
      beta: this.add(`${name}/beta`, tf.zeros([channels])),
      runningMean: this.add(`${name}/running_mean`, tf.zeros([channels]), false),
      runningVar: this.add(`${name}/running_var`, tf.ones([channels]), false),
    };
  }
  /** PyTorch's nn.Linear initialisation: U(−1/√fan_in, 1/√fan_in) for weight and bias. */
  dense(name: string, inDim: number, outDim: number, next: () => number, bias = true) {
    const bound = 1 / Math.sqrt(inDim);
    const kernel = this.add(
      `${name}/kernel`,
      tf.randomUniform([inDim, outDim], -bound, bound, 'float32', next()),
    );
    const b = bias
      ? this.add(`${name}/bias`, tf.randomUniform([outDim], -bound, bound, 'float32', next()))
      : undefined;
    return { kernel, bias: b };
  }
  network(apply: Network['apply'], outputDim: number): Network {
    return { apply, outputDim, parameters: () => [...this.trainable], variables: () => [...this.all] };
  }
}

function positiveInt(name: string, v: number): void {
  check(Number.isInteger(v) && v > 0, name, 'a positive integer', v);
}

export interface SmallResNetOptions {
  /** Input channels, default 1. */
  channels?: number;
  /** Width of the first stage, default 16 (stages w, 2w, 4w). */
  width?: number;
  /** BasicBlocks per stage, default 1. */
  blocksPerStage?: number;
  /** Stride of the stem: 2 halves every map (≈4× fewer FLOPs) for the slow pure-JS backends. Default 1. */
  stemStride?: 1 | 2;
  seed?: number;
}

/** A small CIFAR-style ResNet for 28×28 inputs: features [B, 4·width]. */
export function smallResNet(options: SmallResNetOptions = {}): Network {
  const { channels = 1, width = 16, blocksPerStage = 1, stemStride = 1, seed = 0 } = options;
  positiveInt('channels', channels);
  positiveInt('width', width);
  positiveInt('blocksPerStage', blocksPerStage);
  check(stemStride === 1 || stemStride === 2, 'stemStride', '1 or 2', stemStride);
  const vars = new Vars(uniqueScope('small_resnet'));
  const next = seeds(seed);
  const conv = (name: string, k: number, cin: number, cout: number, stride: number) => {
    const std = Math.sqrt(2 / (k * k * cout)); // Kaiming normal, fan_out (as resnet_big.py)
    const kernel = vars.add(`${name}/kernel`, tf.randomNormal([k, k, cin, cout], 0, std, 'float32', next()));
    return { kernel: kernel as tf.Variable<tf.Rank.R4>, bn: vars.batchNorm(`${name}/bn`, cout), stride };
  };
  type ConvBn = ReturnType<typeof conv>;
  const stem = conv('stem', 3, channels, width, stemStride);
  const blocks: { conv1: ConvBn; conv2: ConvBn; shortcut?: ConvBn }[] = [];
  let cin = width;
  for (const [stage, stride] of [1, 2, 2].entries()) {
    const cout = width * 2 ** stage;
    for (let b = 0; b < blocksPerStage; b++) {
      const s = b === 0 ? stride : 1;
      const name = `stage${stage + 1}.${b}`;
      const block: (typeof blocks)[number] = {
        conv1: conv(`${name}/conv1`, 3, cin, cout, s),
        conv2: conv(`${name}/conv2`, 3, cout, cout, 1),
      };
      if (s !== 1 || cin !== cout) block.shortcut = conv(`${name}/shortcut`, 1, cin, cout, s);
      blocks.push(block);
      cin = cout;
    }
  }
  const run = (x: tf.Tensor4D, c: ConvBn) =>
    tf.conv2d(x, c.kernel, c.stride, c.kernel.shape[0] === 1 ? 'valid' : 'same');
  return vars.network((input, training) => {
    let x = batchNorm(run(input as tf.Tensor4D, stem), stem.bn, { training, relu: true }) as tf.Tensor4D; // [B, 28/stemStride, 28/stemStride, w]
    for (const b of blocks) {
      const h = batchNorm(run(x, b.conv1), b.conv1.bn, { training, relu: true }) as tf.Tensor4D; // [B, H/s, W/s, c]
      const shortcut = b.shortcut ? batchNorm(run(x, b.shortcut), b.shortcut.bn, { training }) : x; // [B, H/s, W/s, c]
      x = batchNorm(run(h, b.conv2), b.conv2.bn, { training, relu: true, residual: shortcut }) as tf.Tensor4D;
    }
    return globalAvgPool(x); // [B, 4w]
  }, cin);
}

export interface MlpEncoderOptions {
  /** Flattened input size, e.g. 28·28·1. */
  inputDim: number;
  /** Hidden widths, default [512, 256]; the last is the feature size. */
  hidden?: number[];
  seed?: number;
}

/** Flatten → (Linear → BatchNorm → ReLU) per hidden width: features [B, hidden.at(-1)]. */
export function mlpEncoder(options: MlpEncoderOptions): Network {
  const { inputDim, hidden = [512, 256], seed = 0 } = options;
  positiveInt('inputDim', inputDim);
  check(
    hidden.length > 0 && hidden.every((h) => Number.isInteger(h) && h > 0),
    'hidden',
    'positive integer widths',
    hidden,
  );
  const vars = new Vars(uniqueScope('mlp_encoder'));
  const next = seeds(seed);
  let d = inputDim;
  const layers = hidden.map((h, i) => {
    const layer = { ...vars.dense(`dense${i}`, d, h, next, false), bn: vars.batchNorm(`bn${i}`, h) };
    d = h;
    return layer;
  });
  return vars.network((input, training) => {
    let x: tf.Tensor = tf.reshape(input, [input.shape[0]!, -1]); // [B, inputDim]
    for (const l of layers) x = batchNorm(tf.matMul(x, l.kernel), l.bn, { training, relu: true }); // [B, h]
    return x;
  }, d);
}

export interface ProjectionHeadOptions {
  inputDim: number;
  /** Default 128. */
  outputDim?: number;
  /** 'mlp' (Linear → ReLU → Linear, SupCon's default) or 'linear'. Default 'mlp'. */
  kind?: 'mlp' | 'linear';
  /** L2-normalise the encoder output before the head. Default false. */
  normalizeInput?: boolean;
  seed?: number;
}

/** Projection head; its output rows are L2-normalised embeddings [B, outputDim]. */
export function projectionHead(options: ProjectionHeadOptions): Network {
  const { inputDim, outputDim = 128, kind = 'mlp', normalizeInput = false, seed = 1 } = options;
  positiveInt('inputDim', inputDim);
  positiveInt('outputDim', outputDim);
  check(kind === 'mlp' || kind === 'linear', 'kind', '"mlp" or "linear"', kind);
  const vars = new Vars(uniqueScope('projection_head'));
  const next = seeds(seed);
  const hidden = kind === 'mlp' ? vars.dense('dense0', inputDim, inputDim, next) : undefined;
  const out = vars.dense('dense1', inputDim, outputDim, next);
  return vars.network((input) => {
    let x: tf.Tensor2D = normalizeInput ? l2NormalizeRows(input as tf.Tensor2D) : (input as tf.Tensor2D); // [B, D]
    if (hidden) x = tf.relu(tf.add(tf.matMul(x, hidden.kernel), hidden.bias!)) as tf.Tensor2D; // [B, D]
    return l2NormalizeRows(tf.add(tf.matMul(x, out.kernel), out.bias!) as tf.Tensor2D); // [B, outputDim], unit rows
  }, outputDim);
}

/** The linear classifier (cross-entropy head): logits [B, classes]. */
export function linearClassifier(options: { inputDim: number; classes: number; seed?: number }): Network {
  positiveInt('inputDim', options.inputDim);
  check(
    Number.isInteger(options.classes) && options.classes > 1,
    'classes',
    'an integer > 1',
    options.classes,
  );
  const vars = new Vars(uniqueScope('linear_classifier'));
  const fc = vars.dense('fc', options.inputDim, options.classes, seeds(options.seed ?? 2));
  return vars.network((x) => tf.add(tf.matMul(x as tf.Tensor2D, fc.kernel), fc.bias!), options.classes);
}
