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
 * LayerNorm's and GELU's gradients are tfjs's autodiff of these compositions; `linear` and the heads'
 * attention have hand-written gradients (tf.customGrad) that keep fewer tensors for the backward
 * pass. test/models-vit.test.ts checks values and gradients against PyTorch
 * (reference/make_vit_fixtures.py). LayerNorm, GELU and attention's softmax call the fused kernels of
 * the contract (kernels.ts: `SupconFusedLayerNorm`, `SupconFusedGelu`, `SupconScaledSoftmax`, each with
 * a one-kernel gradient) when the active backend registered them (the native engine), and compose
 * the same maths otherwise, so this module stays backend-independent.
 *
 * Notation: B batch, T tokens, D model width, H heads, d = D / H per head.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  SupconAttention,
  type SupconAttentionAttrs,
  SupconAutocastMatMul,
  type SupconAutocastMatMulAttrs,
  SupconFusedGelu,
  type SupconFusedGeluAttrs,
  SupconFusedLayerNorm,
  type SupconFusedLayerNormAttrs,
  SupconLinearGrad,
  type SupconLinearGradAttrs,
  SupconScaledSoftmax,
  type SupconScaledSoftmaxAttrs,
  SupconScaledSoftmaxGrad,
} from '../kernels.js';

/**
 * op(a) · op(b) (+ bias over the last axis) (+ residual) for the encoder's linear layers and
 * attention: the `SupconAutocastMatMul` kernel where the backend has it (the native engine runs it in
 * bf16 with fp32 accumulation under `setPrecision('bf16')`, like PyTorch's CPU autocast, and adds the
 * residual in the product's pass), tf.matMul (+ tf.add) otherwise. a [..., M, K] and b [..., K, N]
 * before the transposes, with equal ranks, or b 2-D and a not transposed (its rows are multiplied as
 * one matrix); residual [..., M, N]. Returns float32 [..., M, N]; with `reducedOutput` (not with a
 * residual), stored in bf16 in the engine's bf16 mode (for outputs that feed attention or GELU).
 */
export function autocastMatMul(
  a: tf.Tensor,
  b: tf.Tensor,
  transposeA = false,
  transposeB = false,
  bias?: tf.Tensor,
  options: { reducedOutput?: boolean; residual?: tf.Tensor } = {},
): tf.Tensor {
  const { reducedOutput = false, residual } = options;
  if (a.rank > 2 && b.rank === 2 && !transposeA) {
    const k = a.shape[a.rank - 1]!;
    const n = transposeB ? b.shape[0]! : b.shape[1]!;
    const rows = residual ? { residual: tf.reshape(residual, [-1, n]) } : {}; // [rows, N]
    const y = autocastMatMul(tf.reshape(a, [-1, k]), b, false, transposeB, bias, { reducedOutput, ...rows }); // [rows, N]
    return tf.reshape(y, [...a.shape.slice(0, -1), n]); // [..., N]
  }
  if (!tf.getKernel(SupconAutocastMatMul, tf.getBackend())) {
    const y = bias
      ? tf.fused.matMul({ a, b, transposeA, transposeB, bias })
      : tf.matMul(a, b, transposeA, transposeB);
    return residual ? tf.add(y, residual) : y;
  }
  const attrs: SupconAutocastMatMulAttrs = reducedOutput
    ? { transposeA, transposeB, reducedOutput }
    : { transposeA, transposeB };
  const inputs: tf.NamedTensorMap = { a, b };
  if (bias) inputs['bias'] = bias;
  if (residual) inputs['residual'] = residual;
  return tf.engine().runKernel(SupconAutocastMatMul, inputs, { ...attrs }) as tf.Tensor; // [..., M, N]
}

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
 * softmax(scale · logits) over the last axis, scale > 0 (attention's 1/√d folded into the softmax).
 * Runs the fused `SupconScaledSoftmax` (one pass, one-kernel gradient, keeps only its output for the
 * backward pass) when the backend has it. Example: `scaledSoftmax(scores, 1 / Math.sqrt(d))`.
 */
export function scaledSoftmax(logits: tf.Tensor, scale: number): tf.Tensor {
  if (tf.getKernel(SupconScaledSoftmax, tf.getBackend())) {
    const attrs: SupconScaledSoftmaxAttrs = { scale };
    return tf.engine().runKernel(SupconScaledSoftmax, { logits }, { ...attrs }) as tf.Tensor; // [..., n]
  }
  return tf.softmax(tf.mul(logits, scale)); // [..., n]
}

/** d logits of `scaledSoftmax` from its output y and dy: scale · y ⊙ (dy − Σ_last dy ⊙ y). */
function scaledSoftmaxGrad(dy: tf.Tensor, y: tf.Tensor, scale: number): tf.Tensor {
  if (tf.getKernel(SupconScaledSoftmaxGrad, tf.getBackend())) {
    const attrs: SupconScaledSoftmaxAttrs = { scale };
    return tf.engine().runKernel(SupconScaledSoftmaxGrad, { dy, y }, { ...attrs }) as tf.Tensor; // [..., n]
  }
  return tf.tidy(() => tf.mul(tf.mul(y, tf.sub(dy, tf.sum(tf.mul(dy, y), -1, true))), scale)); // [..., n]
}

/**
 * Scaled dot-product attention: q, k, v [B, H, T, d] → [B, H, T, d]. Example: `attention(q, k, v)`.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const weights = scaledSoftmax(autocastMatMul(q, k, false, true), 1 / Math.sqrt(q.shape[3])); // [B, H, T, T], rows sum to 1
    return autocastMatMul(weights, v) as tf.Tensor4D; // [B, H, T, d]
  });
}

/**
 * A linear layer's gradient from dy [rows, out], x [rows, in] and W [in, out]: [dx = dy Wᵀ [rows, in],
 * dW = xᵀ dy [in, out], db = Σ_rows dy [out]]. One `SupconLinearGrad` kernel where the backend has
 * it (dy read once, narrowed once in bf16), two products and a sum otherwise.
 */
function linearGrad(
  dy: tf.Tensor2D,
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  reducedDx: boolean,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (tf.getKernel(SupconLinearGrad, tf.getBackend())) {
    const attrs: SupconLinearGradAttrs = reducedDx ? { reducedDx } : {};
    const outs = tf
      .engine()
      .runKernel(SupconLinearGrad, { dy, x, w }, { ...attrs }) as unknown as tf.Tensor[];
    return [outs[0]!, outs[1]!, outs[2]!];
  }
  const dx = autocastMatMul(dy, w, false, true); // [rows, in]
  const dw = autocastMatMul(x, dy, true, false); // [in, out]
  return [dx, dw, tf.sum(dy, 0)]; // db [out]
}

/** Where a linear layer may keep tensors beyond its products' operands at reduced precision (see `linear`). */
export interface LinearPrecision {
  reducedOutput?: boolean;
  reducedInputGrad?: boolean;
}

/**
 * x W + b (+ residual) over the last axis: x [..., in], W [in, out], b [out], residual [..., out] →
 * [..., out]. The gradient keeps only x and W (tfjs's MatMul + Add + Add would also keep the
 * product, the biased product and the residual sum, each [..., out]):
 *   dx = dy Wᵀ, dW = xᵀ dy, db = Σ_rows dy, d residual = dy.
 * Example: `linear(tokens, kernel, bias, tokens)` for a residual projection.
 *
 * `precision` says where the engine's reduced precision (bf16 mode) may store more than the
 * products' operands: `reducedOutput` the output (a layer feeding attention or GELU only; not with a
 * residual), `reducedInputGrad` dx (a layer whose input comes from attention or GELU only).
 */
export function linear(
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor,
  residual?: tf.Tensor,
  precision: LinearPrecision = {},
): tf.Tensor {
  const { reducedOutput = false, reducedInputGrad = false } = precision;
  if (reducedOutput && residual) {
    throw new Error(
      'linear: expected no `residual` with `reducedOutput` (the sum stays fp32), received both',
    );
  }
  const inDim = x.shape[x.rank - 1]!;
  const outDim = kernel.shape[1]!;
  const outShape = [...x.shape.slice(0, -1), outDim];
  const rows = (t: tf.Tensor, width: number) => tf.reshape(t, [-1, width]) as tf.Tensor2D; // [rows, width]
  const forward = (save: tf.GradSaveFunc, r?: tf.Tensor) => {
    save([x, kernel]);
    const extra = r ? { residual: rows(r, outDim) } : { reducedOutput };
    const y = autocastMatMul(rows(x, inDim), kernel, false, false, bias, extra); // [rows, out]
    // tfjs runs a customGrad's gradFunc outside any tidy and keeps what it leaves until the whole
    // backward pass ends, so the intermediates are tidied here.
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] =>
      tf.tidy(() => {
        const [xs, w] = saved as [tf.Tensor, tf.Tensor2D];
        const [dx, dw, db] = linearGrad(rows(dy, outDim), rows(xs, inDim), w, reducedInputGrad); // [rows, in], [in, out], [out]
        const grads = [tf.reshape(dx, xs.shape), dw, db]; // [..., in], [in, out], [out]
        return r ? [...grads, tf.clone(dy)] : grads;
      });
    return { value: tf.reshape(y, outShape), gradFunc }; // [..., out]
  };
  if (residual) {
    return tf.customGrad((_x, _w, _b, r, save) => forward(save as tf.GradSaveFunc, r as tf.Tensor))(
      x,
      kernel,
      bias,
      residual,
    );
  }
  return tf.customGrad((_x, _w, _b, save) => forward(save as tf.GradSaveFunc))(x, kernel, bias);
}

/**
 * The attention of all heads from the fused projection: qkv [B, T, 3D] (columns q | k | v, head h
 * at h·d … (h+1)·d − 1 within each) → the heads side by side [B, T, D]. The gradient keeps q, k, v
 * (views of one [3, B, H, T, d] array) and the probabilities P [B, H, T, T], nothing else (tfjs's
 * autodiff would also keep qkv, the raw and the scaled logits and the output before its transpose):
 *   S = q kᵀ / √d, P = softmax(S), O = P v;
 *   dV = Pᵀ dO, dP = dO vᵀ, dS = P ⊙ (dP − Σ_row dP ⊙ P) / √d, dq = dS k, dk = dSᵀ q.
 * A backend with the `SupconAttention` kernel (the native engine) runs all of it in one kernel
 * each way and keeps qkv and P.
 */
function headsAttention(qkv: tf.Tensor3D, heads: number): tf.Tensor3D {
  if (tf.getKernel(SupconAttention, tf.getBackend())) {
    // One kernel each way; the heads are read and written in place (no split, merge or transposes).
    const attrs: SupconAttentionAttrs = { heads };
    const [o, p] = tf.engine().runKernel(SupconAttention, { qkv }, { ...attrs }) as unknown as tf.Tensor[];
    p!.dispose(); // [B, H, T, T]: the gradient keeps its own reference
    return o as tf.Tensor3D; // [B, T, D]
  }
  const [b, t, width] = qkv.shape;
  const dim = width / 3;
  const d = dim / heads;
  const scale = 1 / Math.sqrt(d);
  const f = tf.customGrad((input, save) => {
    const split = tf.transpose(tf.reshape(input as tf.Tensor, [b, t, 3, heads, d]), [2, 0, 3, 1, 4]); // [3, B, H, T, d]
    const [q, k, v] = tf.unstack(split) as tf.Tensor4D[]; // each [B, H, T, d]
    const p = scaledSoftmax(autocastMatMul(q!, k!, false, true), scale); // [B, H, T, T]
    const o = autocastMatMul(p, v!); // [B, H, T, d]
    (save as tf.GradSaveFunc)([q!, k!, v!, p]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor =>
      tf.tidy(() => {
        const [sq, sk, sv, sp] = saved as tf.Tensor4D[];
        const dO = tf.transpose(tf.reshape(dy, [b, t, heads, d]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, d]
        const dV = autocastMatMul(sp!, dO, true, false); // [B, H, T, d]
        const dS = scaledSoftmaxGrad(autocastMatMul(dO, sv!, false, true), sp!, scale); // [B, H, T, T]
        const dQ = autocastMatMul(dS, sk!); // [B, H, T, d]
        const dK = autocastMatMul(dS, sq!, true, false); // [B, H, T, d]
        return tf.reshape(tf.transpose(tf.stack([dQ, dK, dV]), [1, 3, 0, 2, 4]), [b, t, width]); // [B, T, 3D]
      });
    return { value: tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [b, t, dim]), gradFunc }; // [B, T, D]
  });
  return f(qkv) as tf.Tensor3D;
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
 * attend per head, concatenate the heads and project back (torch.nn.MultiheadAttention's maths);
 * with `residual` [B, T, D], residual + attention in the output projection's pass.
 */
export function multiHeadSelfAttention(
  x: tf.Tensor3D,
  p: SelfAttentionParams,
  heads: number,
  residual?: tf.Tensor3D,
): tf.Tensor3D {
  return tf.tidy(() => {
    const qkv = linear(x, p.qkvKernel, p.qkvBias, undefined, { reducedOutput: true }) as tf.Tensor3D; // [B, T, 3D]
    const merged = headsAttention(qkv, heads); // [B, T, D]
    return linear(merged, p.projKernel, p.projBias, residual, { reducedInputGrad: true }) as tf.Tensor3D; // [B, T, D]
  });
}
