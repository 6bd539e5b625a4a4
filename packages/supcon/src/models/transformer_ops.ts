/**
 * The three pieces of maths a Vision Transformer adds to a ResNet, each one small function of
 * tfjs-core ops so a fused native kernel can later replace it without touching the model (vit.ts):
 *
 *   layerNorm(x, γ, β, ε) = γ ⊙ (x − μ) / √(σ² + ε) + β, μ and σ² (biased) over the last axis;
 *   gelu(x) = x · Φ(x) = ½ x (1 + erf(x / √2)), or with `approximate: 'tanh'`
 *             ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))) (Hendrycks & Gimpel 2016);
 *   attention(q, k, v) = softmax(q kᵀ / √d) v per batch and head (Vaswani et al. 2017),
 *             q, k, v [B, H, T, d].
 *
 * Gradients are tfjs's autodiff of these compositions; test/models-vit.test.ts checks values and
 * gradients against PyTorch (reference/make_vit_fixtures.py). LayerNorm and GELU call the fused
 * kernels of the contract (kernels.ts: `SupconFusedLayerNorm`, `SupconFusedGelu`, each with a one-kernel
 * gradient) when the active backend registered them (the native engine), and compose the same maths
 * otherwise, so this module stays backend-independent.
 *
 * Notation: B batch, T tokens, D model width, H heads, d = D / H per head.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  SupconFusedGelu,
  type SupconFusedGeluAttrs,
  SupconFusedLayerNorm,
  type SupconFusedLayerNormAttrs,
} from '../kernels.js';

/** ε of every LayerNorm of the ViT (the original ViT's; PyTorch's nn.LayerNorm default is 1e-5). */
export const LAYER_NORM_EPSILON = 1e-6;

export type GeluApproximation = 'none' | 'tanh';

/**
 * LayerNorm over the last axis. Example: `layerNorm(tokens, gamma, beta)` on [B, T, D] with γ, β [D].
 */
export function layerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon = LAYER_NORM_EPSILON,
): tf.Tensor {
  if (tf.getKernel(SupconFusedLayerNorm, tf.getBackend())) {
    const attrs: SupconFusedLayerNormAttrs = { epsilon };
    const outs = tf.engine().runKernel(SupconFusedLayerNorm, { x, gamma, beta }, { ...attrs });
    const [y, mean, invStd] = outs as unknown as tf.Tensor[]; // [..., D], [rows], [rows]
    tf.dispose([mean!, invStd!]); // the gradient keeps its own references
    return y!;
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true); // [..., 1], [..., 1]
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))); // [..., D]
    return tf.add(tf.mul(normed, gamma), beta); // [..., D]
  });
}

const SQRT_HALF = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU, exact (erf) by default or the tanh approximation. Example: `gelu(h, 'tanh')`. */
export function gelu(x: tf.Tensor, approximate: GeluApproximation = 'none'): tf.Tensor {
  if (tf.getKernel(SupconFusedGelu, tf.getBackend())) {
    const attrs: SupconFusedGeluAttrs = { approximate };
    return tf.engine().runKernel(SupconFusedGelu, { x }, { ...attrs }) as tf.Tensor; // [...]
  }
  return tf.tidy(() => {
    const inner =
      approximate === 'tanh'
        ? tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI)) // [...]
        : tf.erf(tf.mul(x, SQRT_HALF)); // [...]
    return tf.mul(tf.mul(x, 0.5), tf.add(inner, 1)); // [...]
  });
}

/**
 * Scaled dot-product attention: q, k, v [B, H, T, d] → [B, H, T, d]. Example: `attention(q, k, v)`.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const d = q.shape[3];
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)); // [B, H, T, T]
    const weights = tf.softmax(scores); // [B, H, T, T], rows sum to 1
    return tf.matMul(weights, v) as tf.Tensor4D; // [B, H, T, d]
  });
}

/** The weights of one multi-head self-attention: a fused q/k/v projection and the output projection. */
export interface SelfAttentionParams {
  qkvKernel: tf.Tensor; // [D, 3D]: columns q | k | v, head h at h·d … (h+1)·d − 1 within each
  qkvBias: tf.Tensor; // [3D]
  projKernel: tf.Tensor; // [D, D]
  projBias: tf.Tensor; // [D]
}

/**
 * Multi-head self-attention over tokens [B, T, D] with `heads` heads → [B, T, D]: project to q, k, v,
 * attend per head, concatenate the heads and project back (torch.nn.MultiheadAttention's maths).
 */
export function multiHeadSelfAttention(x: tf.Tensor3D, p: SelfAttentionParams, heads: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, t, dim] = x.shape;
    const d = dim / heads;
    const rows = tf.reshape(x, [b * t, dim]); // [B·T, D]
    const qkv = tf.add(tf.matMul(rows, p.qkvKernel as tf.Tensor2D), p.qkvBias); // [B·T, 3D]
    const split = tf.transpose(tf.reshape(qkv, [b, t, 3, heads, d]), [2, 0, 3, 1, 4]); // [3, B, H, T, d]
    const [q, k, v] = tf.unstack(split).map((s) => s as tf.Tensor4D); // each [B, H, T, d]
    const attended = attention(q!, k!, v!); // [B, H, T, d]
    const merged = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [b * t, dim]); // [B·T, D]
    const out = tf.add(tf.matMul(merged, p.projKernel as tf.Tensor2D), p.projBias); // [B·T, D]
    return tf.reshape(out, [b, t, dim]); // [B, T, D]
  });
}
