/**
 * The contract between the core and a backend that accelerates it (the native engine,
 * packages/native): each custom kernel the core may call, declared once with its inputs and
 * attributes, as tfjs declares its own kernels in `kernel_names.ts`; and the host hook through
 * which the SupCon loss's row pass reaches native code.
 *
 * The core calls a kernel only when the active backend registered it (`tf.getKernel`), and
 * otherwise composes the same maths from standard ops; a backend implements the kernels it can.
 * This module imports no runtime code, so a backend can depend on it (`supcon/kernels`) without
 * loading the rest of the core.
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Training batch norm over the last axis with batch statistics, an optional residual added and
 * ReLU applied after it: y = relu?(scale · (x − mean) / √(var + ε) + offset + residual?).
 * Outputs [y, mean [C], biased variance [C]]; its gradient is `SupconBatchNormGrad`.
 */
export const SupconBatchNorm = 'SupconBatchNorm';
export interface SupconBatchNormInputs<T = TensorInfo> {
  x: T; // [..., C]
  scale: T; // [C] gamma
  offset: T; // [C] beta
  residual?: T; // like x
}
export interface SupconBatchNormAttrs {
  epsilon: number;
  relu: boolean;
  /** Whether the `residual` input is present. */
  residual: boolean;
}

/** Gradient of `SupconBatchNorm`: outputs [dx, dscale, doffset, dresidual when residual]. */
export const SupconBatchNormGrad = 'SupconBatchNormGrad';
export interface SupconBatchNormGradInputs<T = TensorInfo> {
  dy: T; // like x
  x: T; // [..., C] the forward input
  y: T; // like x, the forward output (its sign is the ReLU mask)
  scale: T; // [C]
  mean: T; // [C]
  variance: T; // [C]
}
export type SupconBatchNormGradAttrs = SupconBatchNormAttrs;

/**
 * The running-statistics update after a training batch norm, PyTorch's rule:
 * mean' = (1 − μ)·mean + μ·batchMean, var' = (1 − μ)·var + μ·batchVar·n / max(1, n − 1) (the
 * unbiased batch variance over n = `count` values per channel). Outputs [mean' [C], var' [C]].
 * One kernel for the seven small ops it replaces, per batch norm and step.
 */
export const SupconRunningStats = 'SupconRunningStats';
export interface SupconRunningStatsInputs<T = TensorInfo> {
  runningMean: T; // [C]
  runningVar: T; // [C]
  mean: T; // [C] the batch mean
  variance: T; // [C] the biased batch variance
}
export interface SupconRunningStatsAttrs {
  momentum: number;
  /** Values per channel in the batch (all axes but the last). */
  count: number;
}

/**
 * LayerNorm over the last axis (transformer_ops.ts `layerNorm`): with μ and σ² (biased) over the
 * last axis of each row, y = γ ⊙ (x − μ) / √(σ² + ε) + β. Outputs [y, mean [rows], invStd [rows]]
 * (rows = x.size / D; invStd = 1 / √(σ² + ε)), the statistics kept for the gradient,
 * `SupconFusedLayerNormGrad`.
 */
export const SupconFusedLayerNorm = 'SupconFusedLayerNorm';
export interface SupconFusedLayerNormInputs<T = TensorInfo> {
  x: T; // [..., D]
  gamma: T; // [D]
  beta: T; // [D]
}
export interface SupconFusedLayerNormAttrs {
  epsilon: number;
}

/** Gradient of `SupconFusedLayerNorm`: outputs [dx like x, dgamma [D], dbeta [D]]. */
export const SupconFusedLayerNormGrad = 'SupconFusedLayerNormGrad';
export interface SupconFusedLayerNormGradInputs<T = TensorInfo> {
  dy: T; // like x
  x: T; // [..., D] the forward input
  gamma: T; // [D]
  mean: T; // [rows] the forward's mean
  invStd: T; // [rows] the forward's 1 / √(σ² + ε)
}

/**
 * GELU (transformer_ops.ts `gelu`), elementwise: x · Φ(x) = ½ x (1 + erf(x / √2)) for
 * `approximate: 'none'`, ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))) for 'tanh'. One output like x;
 * its gradient is `SupconFusedGeluGrad` (inputs dy and the forward's x, output dx).
 */
export const SupconFusedGelu = 'SupconFusedGelu';
export interface SupconFusedGeluInputs<T = TensorInfo> {
  x: T; // [...]
}
export interface SupconFusedGeluAttrs {
  approximate: 'none' | 'tanh';
}
export const SupconFusedGeluGrad = 'SupconFusedGeluGrad';
export interface SupconFusedGeluGradInputs<T = TensorInfo> {
  dy: T; // like x
  x: T; // [...] the forward input
}

/**
 * Attention's softmax with its scale folded in (transformer_ops.ts `scaledSoftmax`): over the last
 * axis, y = softmax(scale · logits), scale > 0 (1/√d). One output like logits; its gradient is
 * `SupconScaledSoftmaxGrad` (inputs dy and the forward's y, output dlogits = scale · y ⊙ (dy − Σ dy ⊙ y)).
 */
export const SupconScaledSoftmax = 'SupconScaledSoftmax';
export interface SupconScaledSoftmaxInputs<T = TensorInfo> {
  logits: T; // [..., n]
}
export interface SupconScaledSoftmaxAttrs {
  scale: number;
}
export const SupconScaledSoftmaxGrad = 'SupconScaledSoftmaxGrad';
export interface SupconScaledSoftmaxGradInputs<T = TensorInfo> {
  dy: T; // like y
  y: T; // [..., n] the forward's output
}

/**
 * Multi-head self-attention from the fused q/k/v projection (transformer_ops.ts `headsAttention`):
 * qkv [B, T, 3D] (columns q | k | v, head h at h·d … (h+1)·d − 1 within each, d = D / heads) →
 * outputs [o [B, T, D] (the heads side by side), p [B, heads, T, T]] with
 * p = softmax(q kᵀ / √d) and o = p v per batch and head. Its gradient `SupconAttentionGrad` takes dy
 * (like o), qkv and p and returns dqkv like qkv. The products follow the engine's precision as
 * `SupconAutocastMatMul` does; p and the softmax are fp32.
 */
export const SupconAttention = 'SupconAttention';
export interface SupconAttentionInputs<T = TensorInfo> {
  qkv: T; // [B, T, 3D]
}
export interface SupconAttentionAttrs {
  heads: number;
}
export const SupconAttentionGrad = 'SupconAttentionGrad';
export interface SupconAttentionGradInputs<T = TensorInfo> {
  dy: T; // [B, T, D]
  qkv: T; // [B, T, 3D]
  p: T; // [B, heads, T, T] the forward's attention weights
}

/**
 * A matrix product of the encoder that the backend may compute at its reduced precision, as
 * PyTorch's CPU autocast does for linear layers and batched products (transformer_ops.ts
 * `autocastMatMul`): out = op(a) · op(b) (+ bias over the last axis), op the optional transpose of
 * the last two axes; a [..., M, K] and b [..., K, N] (before the transposes) with equal batch axes
 * or one of them 2-D; an optional `residual` like the output is added to it. The output is float32 [..., M, N]. The native engine runs it in bf16 with fp32
 * accumulation while `setPrecision('bf16')` is in effect and in fp32 otherwise; a backend without the
 * kernel runs tf.matMul. The loss's products (losses/blocks.ts) use tf.matMul and stay fp32.
 */
export const SupconAutocastMatMul = 'SupconAutocastMatMul';
export interface SupconAutocastMatMulInputs<T = TensorInfo> {
  a: T;
  b: T;
  bias?: T; // [N]
  residual?: T; // [..., M, N] fp32, added to the output in the product's pass (a residual connection)
}
export interface SupconAutocastMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  /**
   * The output may be stored at the reduced precision too (bf16 under the native engine's bf16
   * mode: the fp32 result rounded), as autocast's outputs are; for products whose output feeds only
   * kernels that read such storage (attention, GELU). A backend without it ignores the flag.
   */
  reducedOutput?: boolean;
}

/**
 * The gradient of a linear layer y = x W + b over the last axis, in one kernel (transformer_ops.ts
 * `linear`): dy [..., N], x [..., K] and W [K, N] → [dx [..., K], dW [K, N], db [N]] with
 * dx = dy Wᵀ, dW = xᵀ dy and db = Σ_rows dy. The products follow the engine's precision as
 * `SupconAutocastMatMul` does (bf16 operands, fp32 accumulation and outputs), so dy is read once
 * and, in bf16, narrowed once for both products; db is summed in fp32 from dy as stored.
 */
export const SupconLinearGrad = 'SupconLinearGrad';
export interface SupconLinearGradInputs<T = TensorInfo> {
  dy: T; // [..., N]
  x: T; // [..., K]
  w: T; // [K, N]
}
export interface SupconLinearGradAttrs {
  /**
   * dx may be stored at the reduced precision (bf16 in the engine's bf16 mode), for a layer whose
   * input gradient feeds only kernels that read such storage (GELU's and attention's gradients).
   */
  reducedDx?: boolean;
}

/**
 * Fused in-place optimiser updates, one call per parameter. Inputs: the parameter, its gradient
 * and its slot buffers (absent before the first step). A kernel that could update the
 * parameter and every slot in place returns no tensors; otherwise it returns fresh tensors
 * [param, ...slots] with the updated values, which the caller assigns.
 */
export const SupconSgdUpdate = 'SupconSgdUpdate';
export interface SupconSgdUpdateInputs<T = TensorInfo> {
  param: T;
  grad: T;
  momentum?: T;
}
export interface SupconSgdUpdateAttrs {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export const SupconLarsUpdate = 'SupconLarsUpdate';
export interface SupconLarsUpdateInputs<T = TensorInfo> {
  param: T;
  grad: T;
  momentum?: T;
}
export interface SupconLarsUpdateAttrs {
  lr: number;
  momentum: number;
  weightDecay: number;
  trustCoefficient: number;
  nesterov: boolean;
  /** False for parameters excluded from adaptation (batch norm, biases): plain SGD there. */
  adapt: boolean;
}

export const SupconAdamUpdate = 'SupconAdamUpdate';
export interface SupconAdamUpdateInputs<T = TensorInfo> {
  param: T;
  grad: T;
  m?: T;
  v?: T;
}
export interface SupconAdamUpdateAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  decoupled: boolean;
  /** 1 − β1^t and 1 − β2^t for this step t. */
  correction1: number;
  correction2: number;
}

/** Every custom kernel: name → its inputs and attributes. */
export interface SupconKernels {
  [SupconBatchNorm]: { inputs: SupconBatchNormInputs; attrs: SupconBatchNormAttrs };
  [SupconBatchNormGrad]: { inputs: SupconBatchNormGradInputs; attrs: SupconBatchNormGradAttrs };
  [SupconRunningStats]: { inputs: SupconRunningStatsInputs; attrs: SupconRunningStatsAttrs };
  [SupconFusedLayerNorm]: { inputs: SupconFusedLayerNormInputs; attrs: SupconFusedLayerNormAttrs };
  [SupconFusedLayerNormGrad]: { inputs: SupconFusedLayerNormGradInputs; attrs: SupconFusedLayerNormAttrs };
  [SupconFusedGelu]: { inputs: SupconFusedGeluInputs; attrs: SupconFusedGeluAttrs };
  [SupconFusedGeluGrad]: { inputs: SupconFusedGeluGradInputs; attrs: SupconFusedGeluAttrs };
  [SupconScaledSoftmax]: { inputs: SupconScaledSoftmaxInputs; attrs: SupconScaledSoftmaxAttrs };
  [SupconScaledSoftmaxGrad]: { inputs: SupconScaledSoftmaxGradInputs; attrs: SupconScaledSoftmaxAttrs };
  [SupconAutocastMatMul]: { inputs: SupconAutocastMatMulInputs; attrs: SupconAutocastMatMulAttrs };
  [SupconAttention]: { inputs: SupconAttentionInputs; attrs: SupconAttentionAttrs };
  [SupconAttentionGrad]: { inputs: SupconAttentionGradInputs; attrs: SupconAttentionAttrs };
  [SupconLinearGrad]: { inputs: SupconLinearGradInputs; attrs: SupconLinearGradAttrs };
  [SupconSgdUpdate]: { inputs: SupconSgdUpdateInputs; attrs: SupconSgdUpdateAttrs };
  [SupconLarsUpdate]: { inputs: SupconLarsUpdateInputs; attrs: SupconLarsUpdateAttrs };
  [SupconAdamUpdate]: { inputs: SupconAdamUpdateInputs; attrs: SupconAdamUpdateAttrs };
}
export type SupconKernelName = keyof SupconKernels;
/** The fused optimiser updates. */
export type OptimizerKernelName = typeof SupconSgdUpdate | typeof SupconLarsUpdate | typeof SupconAdamUpdate;

/**
 * A kernel's attributes with their declared type. tfjs hands every kernel a `NamedAttrMap`; the
 * core passes exactly the declared object, so this is the one place the type is asserted.
 */
export function kernelAttrs<K extends SupconKernelName>(
  _name: K,
  attrs: NamedAttrMap | undefined,
): SupconKernels[K]['attrs'] {
  return (attrs ?? {}) as unknown as SupconKernels[K]['attrs'];
}

/**
 * The SupCon loss's row pass over anchor rows [rowStart, rowStart + rows) of one block (see
 * losses/host.ts, whose JS passes compute the same): from the block's logits and the positive
 * weights per (anchor row, sample), writes each row's loss and validity and, when `grad` is
 * given, dloss/dlogits; returns the number of rows without positives.
 */
export interface LossRowArgs {
  logits: Float32Array; // [rows, N], N = batch · views, view-major columns
  uncapped: Float32Array; // [rows, batch] positive weight of each sample before the positives cap
  capped: Float32Array; // [rows, batch] the same after the cap
  rowStart: number;
  rows: number;
  batch: number;
  views: number;
  /** 0: SupCon "out" (mean of logs), 1: "in" (log of mean). */
  variant: 0 | 1;
  /** 0: all other rows, 1: one positive and the negatives, 2: only negatives. */
  denominator: 0 | 1 | 2;
  loss: Float32Array; // [rows] out, zero-initialised
  valid: Float32Array; // [rows] out, zero-initialised
  grad: Float32Array | null; // [rows, N] out, zero-initialised
}
export type LossRowKernel = (args: LossRowArgs) => number;

let lossRowKernel: LossRowKernel | undefined;

/** Installs (or, with undefined, removes) the native row pass the host loss path uses. */
export function setLossRowKernel(kernel: LossRowKernel | undefined): void {
  lossRowKernel = kernel;
}

/** The installed row pass, if a backend installed one. */
export function getLossRowKernel(): LossRowKernel | undefined {
  return lossRowKernel;
}
