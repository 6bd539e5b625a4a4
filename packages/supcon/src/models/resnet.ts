/**
 * CIFAR ResNet-18 (He et al. 2016, as adapted by the SupCon reference `resnet_big.py`: a 3×3
 * stride-1 stem and no max-pool, so 32×32 inputs keep 4×4 maps before global pooling) and the
 * SupCon MLP projection head (Linear → ReLU → Linear to 128). NHWC throughout, written with
 * tfjs-core ops and explicit variables so every tensor line carries its shape.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BatchNormParams, batchNorm, createBatchNorm } from './batch_norm.js';

export interface ConvBn {
  kernel: tf.Variable; // [k, k, inChannels, outChannels]
  bn: BatchNormParams;
  stride: number;
}

export interface BasicBlock {
  conv1: ConvBn; // 3×3, stride s
  conv2: ConvBn; // 3×3, stride 1
  shortcut?: ConvBn; // 1×1, stride s, when the shape changes
}

export interface ResNet {
  stem: ConvBn; // 3×3, 3 → 64
  blocks: BasicBlock[]; // 4 stages × 2 blocks
  featureDim: number; // 512
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

/** CIFAR ResNet-18: stage widths 64, 128, 256, 512, two BasicBlocks each, strides 1, 2, 2, 2. */
export function createResNet18(options: { seed?: number; inChannels?: number } = {}): ResNet {
  const next = seeds(options.seed ?? 0);
  const stem = convBn(3, options.inChannels ?? 3, 64, 1, 'stem', next);
  const blocks: BasicBlock[] = [];
  let cin = 64;
  for (const [stage, [width, stride]] of (
    [
      [64, 1],
      [128, 2],
      [256, 2],
      [512, 2],
    ] as const
  ).entries()) {
    for (let b = 0; b < 2; b++) {
      const s = b === 0 ? stride : 1;
      const name = `layer${stage + 1}.${b}`;
      const block: BasicBlock = {
        conv1: convBn(3, cin, width, s, `${name}/conv1`, next),
        conv2: convBn(3, width, width, 1, `${name}/conv2`, next),
      };
      if (s !== 1 || cin !== width) block.shortcut = convBn(1, cin, width, s, `${name}/shortcut`, next);
      blocks.push(block);
      cin = width;
    }
  }
  return { stem, blocks, featureDim: 512 };
}

function conv(x: tf.Tensor4D, c: ConvBn): tf.Tensor4D {
  const pad = c.kernel.shape[0] === 1 ? 'valid' : 'same';
  return tf.conv2d(x, c.kernel as tf.Tensor4D, c.stride, pad);
}

/** Encoder forward: images [B, 32, 32, 3] → features [B, 512] (after global average pooling). */
export function resNetForward(net: ResNet, images: tf.Tensor4D, training: boolean): tf.Tensor2D {
  let x = batchNorm(conv(images, net.stem), net.stem.bn, { training, relu: true }) as tf.Tensor4D; // [B, 32, 32, 64]
  for (const block of net.blocks) {
    const h = batchNorm(conv(x, block.conv1), block.conv1.bn, { training, relu: true }) as tf.Tensor4D; // [B, H/s, W/s, C]
    const shortcut = block.shortcut
      ? batchNorm(conv(x, block.shortcut), block.shortcut.bn, { training }) // [B, H/s, W/s, C]
      : x;
    // relu(bn(conv2(h)) + shortcut) as one fused op where the backend has it.
    x = batchNorm(conv(h, block.conv2), block.conv2.bn, {
      training,
      relu: true,
      residual: shortcut,
    }) as tf.Tensor4D;
  }
  return tf.mean(x, [1, 2]) as tf.Tensor2D; // [B, 512]
}

/** SupCon's "mlp" head: Linear(dim, dim) → ReLU → Linear(dim, outDim), PyTorch's default init. */
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
  return tf.div(z, tf.maximum(tf.norm(z, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D; // [B, 128], unit rows
}

/** Every trainable variable of the encoder and head, in a stable order. */
export function trainableVariables(net: ResNet, head?: ProjectionHead): tf.Variable[] {
  const convBns = [
    net.stem,
    ...net.blocks.flatMap((b) => [b.conv1, b.conv2, ...(b.shortcut ? [b.shortcut] : [])]),
  ];
  const vars = convBns.flatMap((c) => [c.kernel, c.bn.gamma, c.bn.beta]);
  if (head) vars.push(head.w1, head.b1, head.w2, head.b2);
  return vars;
}
