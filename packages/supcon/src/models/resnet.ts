/**
 * ResNet-18/34/50 (He et al. 2016) as the SupCon reference `resnet_big.py` builds them, and the
 * SupCon MLP projection head (Linear → ReLU → Linear to 128). NHWC throughout, written with
 * tfjs-core ops and explicit variables so every tensor line carries its shape.
 *
 *   - stem 'cifar': 3×3 stride-1 conv and no max-pool, so 32×32 inputs keep 4×4 maps at the end;
 *   - stem 'imagenet': 7×7 stride-2 conv and a 3×3 stride-2 max-pool (224×224 → 56×56);
 *   - ResNet-18/34 use BasicBlocks (two 3×3 convs), ResNet-50 Bottlenecks (1×1, 3×3, 1×1 with
 *     expansion 4, the stride on the 3×3 as in torchvision v1.5 and resnet_big.py);
 *   - `width` multiplies every channel count (64·width in the first stage), so the features have
 *     512·width (18, 34) or 2048·width (50) dimensions.
 * Padding follows TensorFlow's 'same' (asymmetric on stride 2), which the exported layers model
 * reproduces exactly; the default CIFAR ResNet-18 is bit-identical to earlier versions for a seed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { type BatchNormParams, batchNorm, createBatchNorm } from './batch_norm.js';
import type { Network } from './network.js';
import { l2NormalizeRows } from './normalize.js';
import { globalAvgPool } from './pool.js';

export const RESNET_DEPTHS = [18, 34, 50] as const;
export type ResNetDepth = (typeof RESNET_DEPTHS)[number];
export const RESNET_STEMS = ['cifar', 'imagenet'] as const;
export type ResNetStem = (typeof RESNET_STEMS)[number];

/** Blocks per stage and block kind (torchvision's table). */
const LAYOUT: Record<ResNetDepth, { blocks: number[]; bottleneck: boolean }> = {
  18: { blocks: [2, 2, 2, 2], bottleneck: false },
  34: { blocks: [3, 4, 6, 3], bottleneck: false },
  50: { blocks: [3, 4, 6, 3], bottleneck: true },
};
const EXPANSION = 4; // Bottleneck output channels = 4 × its inner width

export interface ConvBn {
  kernel: tf.Variable; // [k, k, inChannels, outChannels]
  bn: BatchNormParams;
  stride: number;
}

/** A BasicBlock (conv1 3×3 stride s, conv2 3×3) or, with conv3, a Bottleneck (1×1, 3×3 stride s, 1×1). */
export interface BasicBlock {
  conv1: ConvBn;
  conv2: ConvBn;
  conv3?: ConvBn;
  shortcut?: ConvBn; // 1×1, stride s, when the shape changes
}

export interface ResNet {
  depth: ResNetDepth;
  stemKind: ResNetStem;
  stem: ConvBn; // 3×3 stride 1 (cifar) or 7×7 stride 2 (imagenet), 3 → 64·width
  blocks: BasicBlock[];
  featureDim: number; // 512·width or 2048·width
}

export interface ResNetOptions {
  /** 18, 34 or 50. Default 18. */
  depth?: ResNetDepth;
  /** Default 'cifar'. */
  stem?: ResNetStem;
  /** Channel multiplier; 64·width must be a whole number. Default 1. */
  width?: number;
  /** Input channels. Default 3. */
  inChannels?: number;
  seed?: number;
}

export interface ProjectionHead {
  w1: tf.Variable; // [featureDim, featureDim]
  b1: tf.Variable; // [featureDim]
  w2: tf.Variable; // [featureDim, outDim]
  b2: tf.Variable; // [outDim]
}

/** A deterministic stream of seeds so the same `seed` gives the same weights on every backend. */
function seeds(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

function convBn(
  k: number,
  cin: number,
  cout: number,
  stride: number,
  name: string,
  next: () => number,
): ConvBn {
  // Kaiming normal, fan_out, ReLU gain (as resnet_big.py): std = sqrt(2 / (k·k·cout)).
  const std = Math.sqrt(2 / (k * k * cout));
  const kernel = tf.variable(
    tf.randomNormal([k, k, cin, cout], 0, std, 'float32', next()),
    true,
    `${name}/kernel`,
  );
  return { kernel, bn: createBatchNorm(cout, `${name}/bn`), stride };
}

/**
 * The one rule for a ResNet's channel multiplier m, for the factory's `width` and the model spec's
 * `widthMultiplier` alike: positive, with 64·m channels in the first stage a whole number.
 */
export function checkWidthMultiplier(value: unknown, argument: string): void {
  check(
    typeof value === 'number' && value > 0 && Number.isInteger(64 * value),
    argument,
    `a positive multiplier with 64·${argument.split('.').at(-1)} a whole number (e.g. 0.25, 0.5, 1, 2)`,
    value,
  );
}

/** Validates ResNet options and fills in the defaults. */
export function resolveResNetOptions(options: ResNetOptions = {}): Required<ResNetOptions> {
  const { depth = 18, stem = 'cifar', width = 1, inChannels = 3, seed = 0 } = options;
  check(RESNET_DEPTHS.includes(depth), 'depth', `one of ${RESNET_DEPTHS.join(', ')}`, depth);
  check(RESNET_STEMS.includes(stem), 'stem', `"cifar" or "imagenet"`, stem);
  checkWidthMultiplier(width, 'width');
  check(Number.isInteger(inChannels) && inChannels > 0, 'inChannels', 'a positive integer', inChannels);
  return { depth, stem, width, inChannels, seed };
}

/**
 * A ResNet encoder with explicit variables named `stem/...` and `layer<stage>.<block>/conv<i>/...`.
 * Example: `resNetForward(createResNet({ depth: 50 }), images, false)` → features [B, 2048].
 */
export function createResNet(options: ResNetOptions = {}): ResNet {
  const { depth, stem: stemKind, width, inChannels, seed } = resolveResNetOptions(options);
  const { blocks: counts, bottleneck } = LAYOUT[depth];
  const next = seeds(seed);
  const base = 64 * width;
  const stem =
    stemKind === 'cifar'
      ? convBn(3, inChannels, base, 1, 'stem', next)
      : convBn(7, inChannels, base, 2, 'stem', next);
  const blocks: BasicBlock[] = [];
  let cin = base;
  for (const [stage, count] of counts.entries()) {
    const planes = base * 2 ** stage;
    const cout = bottleneck ? planes * EXPANSION : planes;
    for (let b = 0; b < count; b++) {
      const s = b === 0 && stage > 0 ? 2 : 1;
      const name = `layer${stage + 1}.${b}`;
      // Creation order fixes the seed stream: conv1, conv2, (conv3), (shortcut).
      const block: BasicBlock = bottleneck
        ? {
            conv1: convBn(1, cin, planes, 1, `${name}/conv1`, next),
            conv2: convBn(3, planes, planes, s, `${name}/conv2`, next),
            conv3: convBn(1, planes, cout, 1, `${name}/conv3`, next),
          }
        : {
            conv1: convBn(3, cin, planes, s, `${name}/conv1`, next),
            conv2: convBn(3, planes, planes, 1, `${name}/conv2`, next),
          };
      if (s !== 1 || cin !== cout) block.shortcut = convBn(1, cin, cout, s, `${name}/shortcut`, next);
      blocks.push(block);
      cin = cout;
    }
  }
  return { depth, stemKind, stem, blocks, featureDim: cin };
}

/** CIFAR ResNet-18: stage widths 64, 128, 256, 512, two BasicBlocks each, strides 1, 2, 2, 2. */
export function createResNet18(options: { seed?: number; inChannels?: number } = {}): ResNet {
  return createResNet({ ...options, depth: 18, stem: 'cifar', width: 1 });
}

function conv(x: tf.Tensor4D, c: ConvBn): tf.Tensor4D {
  const pad = c.kernel.shape[0] === 1 ? 'valid' : 'same';
  return tf.conv2d(x, c.kernel as tf.Tensor4D, c.stride, pad);
}

/** Encoder forward: images [B, H, W, C] → features [B, featureDim] (after global average pooling). */
export function resNetForward(net: ResNet, images: tf.Tensor4D, training: boolean): tf.Tensor2D {
  let x = batchNorm(conv(images, net.stem), net.stem.bn, { training, relu: true }) as tf.Tensor4D; // [B, H/s, W/s, 64w]
  if (net.stemKind === 'imagenet') x = tf.maxPool(x, 3, 2, 'same'); // [B, H/4, W/4, 64w]
  for (const block of net.blocks) {
    let h = batchNorm(conv(x, block.conv1), block.conv1.bn, { training, relu: true }) as tf.Tensor4D; // [B, H/s, W/s, C] (bottleneck: [B, H, W, planes])
    const last = block.conv3 ?? block.conv2;
    if (block.conv3)
      h = batchNorm(conv(h, block.conv2), block.conv2.bn, { training, relu: true }) as tf.Tensor4D; // [B, H/s, W/s, planes]
    const shortcut = block.shortcut
      ? batchNorm(conv(x, block.shortcut), block.shortcut.bn, { training }) // [B, H/s, W/s, C]
      : x;
    // relu(bn(last conv(h)) + shortcut) as one fused op where the backend has it.
    x = batchNorm(conv(h, last), last.bn, { training, relu: true, residual: shortcut }) as tf.Tensor4D; // [B, H/s, W/s, C]
  }
  return globalAvgPool(x); // [B, featureDim]
}

/** Every ConvBn of a ResNet in creation order. */
export function resNetConvs(net: ResNet): ConvBn[] {
  return [
    net.stem,
    ...net.blocks.flatMap((b) => [
      b.conv1,
      b.conv2,
      ...(b.conv3 ? [b.conv3] : []),
      ...(b.shortcut ? [b.shortcut] : []),
    ]),
  ];
}

/**
 * SupCon's "mlp" head over a raw `ResNet` (struct form, for code that drives `resNetForward` itself,
 * such as the gradient-cache benchmark): Linear(dim, dim) → ReLU → Linear(dim, outDim), PyTorch's
 * default init. Models built from a spec use the one `projectionHead` of small.ts (models/spec.ts).
 */
export function createProjectionHead(
  options: { inDim?: number; outDim?: number; seed?: number } = {},
): ProjectionHead {
  const inDim = options.inDim ?? 512;
  const outDim = options.outDim ?? 128;
  const next = seeds((options.seed ?? 0) + 7919);
  const bound = 1 / Math.sqrt(inDim); // nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  const u = (shape: number[]) => tf.randomUniform(shape, -bound, bound, 'float32', next());
  return {
    w1: tf.variable(u([inDim, inDim]), true, 'head/w1'),
    b1: tf.variable(u([inDim]), true, 'head/b1'),
    w2: tf.variable(u([inDim, outDim]), true, 'head/w2'),
    b2: tf.variable(u([outDim]), true, 'head/b2'),
  };
}

/** Projection: features [B, 512] → L2-normalised embeddings [B, 128]. */
export function projectionHeadForward(head: ProjectionHead, features: tf.Tensor2D): tf.Tensor2D {
  const h = tf.fused.matMul({ a: features, b: head.w1, bias: head.b1, activation: 'relu' }); // [B, 512]
  const z = tf.fused.matMul({ a: h, b: head.w2, bias: head.b2 }); // [B, 128]
  return l2NormalizeRows(z as tf.Tensor2D); // [B, 128], unit rows
}

/** Every trainable variable of the encoder and head, in a stable order. */
export function trainableVariables(net: ResNet, head?: ProjectionHead): tf.Variable[] {
  const vars = resNetConvs(net).flatMap((c) => [c.kernel, c.bn.gamma, c.bn.beta]);
  if (head) vars.push(head.w1, head.b1, head.w2, head.b2);
  return vars;
}

/**
 * A ResNet encoder in the trainer's `Network` shape; parameter names are the variable names
 * (`stem/kernel`, `layer1.0/conv1/bn/gamma`, …), BatchNorm running statistics come last.
 */
export function resNetEncoder(options: ResNetOptions = {}): Network & { net: ResNet } {
  const net = createResNet(options);
  const named = (vs: tf.Variable[]) => vs.map((variable) => ({ name: variable.name, variable }));
  const stats = resNetConvs(net).flatMap((c) => [c.bn.runningMean, c.bn.runningVar]);
  return {
    net,
    apply: (x, training) => resNetForward(net, x as tf.Tensor4D, training),
    outputDim: net.featureDim,
    parameters: () => named(trainableVariables(net)),
    variables: () => [...named(trainableVariables(net)), ...named(stats)],
  };
}
