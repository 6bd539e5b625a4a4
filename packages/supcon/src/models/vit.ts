/**
 * Vision Transformer encoder (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words",
 * https://arxiv.org/abs/2010.11929), the Transformer family of the SupCon paper's comparison:
 *
 *   images [B, H, W, C] → patch embedding (conv, kernel = stride = p) [B, H/p, W/p, D] → tokens [B, N, D]
 *   → (class token prepended: [B, N + 1, D]) + learned position embeddings
 *   → depth × pre-norm block: x = x + MSA(LN(x)); x = x + MLP(LN(x)), MLP = Linear(D, rD) → GELU → Linear(rD, D)
 *   → final LN → pool: the class token's row ('cls') or the mean of the tokens ('mean') → features [B, D].
 *
 * No dropout and no stochastic depth (SupCon's trainer has no train-only noise besides augmentation).
 * LayerNorm, GELU and attention are transformer_ops.ts's functions, so a native kernel can replace each.
 *
 * Initialisation, from one seed: linear layers and position embeddings truncated normal, std 0.02,
 * biases zero (the usual ViT scheme); the class token truncated normal, std 0.02; the patch
 * convolution U(±1/√(p²C)) as PyTorch's nn.Conv2d default; LayerNorm γ = 1, β = 0.
 *
 * Parameter names: patch_embed/{kernel,bias}, cls_token (cls only), pos_embed,
 * block<i>/{ln1,ln2}/{gamma,beta}, block<i>/attn/{qkv,proj}/{kernel,bias},
 * block<i>/mlp/{fc1,fc2}/{kernel,bias}, norm/{gamma,beta}. The class token is stored [D] and the
 * position embeddings [T, D] (T = N or N + 1); the optimisers' default exclusion from weight decay
 * (optim/types.ts, `isExcludedFromDecay`) skips both by name, with the norms and biases (rank 1).
 *
 * Example: `vitEncoder({ ...VIT_PRESETS['vit-tiny'], inputShape: [28, 28, 1], seed: 0 }).outputDim` → 192.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import type { Parameter } from '../optim/types.js';
import { type Network, uniqueScope } from './network.js';
import {
  type GeluApproximation,
  gelu,
  layerNorm,
  linear,
  multiHeadSelfAttention,
  type SelfAttentionParams,
} from './transformer_ops.js';

export const VIT_POOLS = ['cls', 'mean'] as const;
export type VitPool = (typeof VIT_POOLS)[number];
export const GELU_APPROXIMATIONS = ['none', 'tanh'] as const satisfies readonly GeluApproximation[];

/** The sizes of a ViT; every field is required in a spec (models/spec.ts). */
export interface VitSize {
  /** p: patch side; the image side must be a multiple (N = (H/p)·(W/p) tokens). */
  patch: number;
  /** D: token width, a multiple of `heads`. */
  dim: number;
  /** Transformer blocks. */
  depth: number;
  /** Attention heads (D / heads per head). */
  heads: number;
  /** r: the MLP's hidden width is r·D (a whole number). */
  mlpRatio: number;
  /** 'cls': the class token's final row; 'mean': the mean of the patch tokens. */
  pool: VitPool;
  /** GELU of the MLP: 'none' (exact, erf) or 'tanh' (the approximation). */
  gelu: GeluApproximation;
}

/**
 * The presets. vit-tiny is sized for small images (patch 4: 49 tokens on 28×28, 64 on 32×32) with
 * DeiT-Tiny's width (192, 3 heads) and half its depth, so a step fits a 2-core CPU; vit-b16 is
 * the paper's ViT-B/16 (224×224 → 196 tokens). vit-mini is for seed studies on Fashion-MNIST on 2
 * cores: patch 7 (16 tokens on 28×28), width 64 in 2 heads of 32, 4 blocks, MLP ratio 2, 138,240
 * parameters on 28×28×1; mean pooling (no class token to learn from few steps) and the tanh GELU
 * (the cheaper kernel).
 */
export const VIT_PRESETS = {
  'vit-mini': { patch: 7, dim: 64, depth: 4, heads: 2, mlpRatio: 2, pool: 'mean', gelu: 'tanh' },
  'vit-tiny': { patch: 4, dim: 192, depth: 6, heads: 3, mlpRatio: 4, pool: 'cls', gelu: 'none' },
  'vit-b16': { patch: 16, dim: 768, depth: 12, heads: 12, mlpRatio: 4, pool: 'cls', gelu: 'none' },
} as const satisfies Record<string, VitSize>;
export type VitPreset = keyof typeof VIT_PRESETS;

export interface VitOptions extends VitSize {
  /** One image, [height, width, channels]. */
  inputShape: [number, number, number];
  seed?: number;
}

/**
 * Validates a ViT's sizes against an image shape, naming each field as `${path}.field` (or the bare
 * name when `path` is empty), with what was expected and received.
 */
export function checkVitSize(size: VitSize, inputShape?: readonly number[], path = ''): void {
  const at = (field: string) => (path ? `${path}.${field}` : field);
  const positiveInt = (v: unknown, field: string) =>
    check(Number.isInteger(v) && (v as number) > 0, at(field), 'a positive integer', v);
  positiveInt(size.patch, 'patch');
  positiveInt(size.dim, 'dim');
  positiveInt(size.depth, 'depth');
  positiveInt(size.heads, 'heads');
  check(
    size.dim % size.heads === 0,
    at('heads'),
    `a divisor of dim=${size.dim} (each head gets dim / heads channels)`,
    size.heads,
  );
  check(
    typeof size.mlpRatio === 'number' && size.mlpRatio > 0 && Number.isInteger(size.mlpRatio * size.dim),
    at('mlpRatio'),
    `a positive number with mlpRatio·dim (dim=${size.dim}) a whole number of hidden units`,
    size.mlpRatio,
  );
  check(VIT_POOLS.includes(size.pool), at('pool'), '"cls" or "mean"', size.pool);
  check(GELU_APPROXIMATIONS.includes(size.gelu), at('gelu'), '"none" (exact) or "tanh"', size.gelu);
  if (inputShape === undefined) return;
  const [h, w] = inputShape;
  check(
    h! % size.patch === 0 && w! % size.patch === 0,
    at('patch'),
    `a divisor of the image's height and width (${h}×${w})`,
    size.patch,
  );
}

/** Seeds for initialisers from one seed (never 0: tfjs reads seed 0 as "use Math.random"). */
function seeds(seed: number): () => number {
  let s = (seed ^ 0x85ebca6b) >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s || 1;
  };
}

interface Linear {
  kernel: tf.Variable; // [in, out]
  bias: tf.Variable; // [out]
}
interface Norm {
  gamma: tf.Variable; // [D]
  beta: tf.Variable; // [D]
}
interface Block {
  ln1: Norm;
  attn: { qkv: Linear; proj: Linear };
  ln2: Norm;
  fc1: Linear;
  fc2: Linear;
}

/** A ViT's variables, by part (the forward and the layers export read them). */
export interface VitWeights {
  patchKernel: tf.Variable; // [p, p, C, D]
  patchBias: tf.Variable; // [D]
  clsToken?: tf.Variable; // [D]
  posEmbed: tf.Variable; // [T, D]
  blocks: Block[];
  norm: Norm;
}

/** The ViT encoder in the trainer's `Network` shape, features [B, dim]. */
export function vitEncoder(options: VitOptions): Network & { weights: VitWeights; size: VitSize } {
  const { inputShape, seed = 0, ...size } = options;
  check(
    Array.isArray(inputShape) &&
      inputShape.length === 3 &&
      inputShape.every((d) => Number.isInteger(d) && d > 0),
    'inputShape',
    '[height, width, channels] of positive integers',
    inputShape,
  );
  checkVitSize(size, inputShape);
  const { patch: p, dim, depth, mlpRatio } = size;
  const [h, w, c] = inputShape;
  const tokens = (h / p) * (w / p) + (size.pool === 'cls' ? 1 : 0);
  const scope = uniqueScope('vit');
  const params: Parameter[] = [];
  const next = seeds(seed);
  const add = (name: string, value: tf.Tensor): tf.Variable => {
    const variable = tf.variable(value, true, `${scope}/${name}`);
    value.dispose();
    params.push({ name, variable });
    return variable;
  };
  const normal = (shape: number[]) => tf.truncatedNormal(shape, 0, 0.02, 'float32', next());
  const linear = (name: string, inDim: number, outDim: number): Linear => ({
    kernel: add(`${name}/kernel`, normal([inDim, outDim])),
    bias: add(`${name}/bias`, tf.zeros([outDim])),
  });
  const norm = (name: string): Norm => ({
    gamma: add(`${name}/gamma`, tf.ones([dim])),
    beta: add(`${name}/beta`, tf.zeros([dim])),
  });
  const bound = 1 / Math.sqrt(p * p * c);
  // Creation order fixes the seed stream: patch embedding, class token, position embeddings, blocks.
  const patchKernel = add(
    'patch_embed/kernel',
    tf.randomUniform([p, p, c, dim], -bound, bound, 'float32', next()),
  );
  const patchBias = add('patch_embed/bias', tf.randomUniform([dim], -bound, bound, 'float32', next()));
  const clsToken = size.pool === 'cls' ? add('cls_token', normal([dim])) : undefined;
  const posEmbed = add('pos_embed', normal([tokens, dim]));
  const hidden = mlpRatio * dim;
  const blocks = Array.from({ length: depth }, (_, i): Block => {
    const name = `block${i}`;
    return {
      ln1: norm(`${name}/ln1`),
      attn: { qkv: linear(`${name}/attn/qkv`, dim, 3 * dim), proj: linear(`${name}/attn/proj`, dim, dim) },
      ln2: norm(`${name}/ln2`),
      fc1: linear(`${name}/mlp/fc1`, dim, hidden),
      fc2: linear(`${name}/mlp/fc2`, hidden, dim),
    };
  });
  const weights: VitWeights = {
    patchKernel,
    patchBias,
    ...(clsToken ? { clsToken } : {}),
    posEmbed,
    blocks,
    norm: norm('norm'),
  };
  return {
    weights,
    size,
    apply: (x) => vitForward(weights, size, x as tf.Tensor4D),
    outputDim: dim,
    parameters: () => [...params],
    variables: () => [...params],
  };
}

const attentionParams = (b: Block): SelfAttentionParams => ({
  qkvKernel: b.attn.qkv.kernel,
  qkvBias: b.attn.qkv.bias,
  projKernel: b.attn.proj.kernel,
  projBias: b.attn.proj.bias,
});

/** One pre-norm Transformer block, tokens [B, T, D] → [B, T, D]. */
export function vitBlock(x: tf.Tensor3D, block: Block, size: VitSize): tf.Tensor3D {
  // The residual adds run inside the projections (`linear`), which keep only their inputs for the gradient.
  const y = multiHeadSelfAttention(
    layerNorm(x, block.ln1.gamma, block.ln1.beta) as tf.Tensor3D, // [B, T, D]
    attentionParams(block),
    size.heads,
    x,
  ); // [B, T, D]: x + MSA(LN(x))
  const normed = layerNorm(y, block.ln2.gamma, block.ln2.beta); // [B, T, D]
  // fc1's output feeds GELU only and fc2's input gradient GELU's gradient only: both may be bf16.
  const h = gelu(
    linear(normed, block.fc1.kernel, block.fc1.bias, undefined, { reducedOutput: true }),
    size.gelu,
  ); // [B, T, rD]
  return linear(h, block.fc2.kernel, block.fc2.bias, y, { reducedInputGrad: true }) as tf.Tensor3D; // [B, T, D]
}

/** The forward pass: images [B, H, W, C] → features [B, D] (no train-only behaviour). */
export function vitForward(weights: VitWeights, size: VitSize, images: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [b] = images.shape;
    const dim = size.dim;
    const patches = tf.add(
      tf.conv2d(images, weights.patchKernel as tf.Tensor4D, size.patch, 'valid'),
      weights.patchBias,
    ); // [B, H/p, W/p, D]
    let x = tf.reshape(patches, [b, -1, dim]) as tf.Tensor3D; // [B, N, D], patches in row-major order
    if (weights.clsToken) {
      // A broadcasting add, not tf.broadcastTo: that runs Tile, whose gradient is one Slice and one
      // Add per image (1,024 kernels a step at 512 images); the add's gradient is one Sum.
      const cls = tf.add(tf.zeros([b, 1, dim]), tf.reshape(weights.clsToken, [1, 1, dim])); // [B, 1, D]
      x = tf.concat([cls, x], 1) as tf.Tensor3D; // [B, N + 1, D]
    }
    x = tf.add(x, weights.posEmbed); // [B, T, D]
    for (const block of weights.blocks) x = vitBlock(x, block, size); // [B, T, D]
    x = layerNorm(x, weights.norm.gamma, weights.norm.beta) as tf.Tensor3D; // [B, T, D]
    if (size.pool === 'cls') return tf.reshape(tf.slice(x, [0, 0, 0], [b, 1, dim]), [b, dim]) as tf.Tensor2D; // [B, D]
    return tf.mean(x, 1) as tf.Tensor2D; // [B, D]
  });
}
