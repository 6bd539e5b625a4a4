/**
 * The ViT's fused kernels (declared in the core's kernels.ts; transformer_ops.ts calls them when
 * the active backend has them): `SupconFusedLayerNorm` over the last axis, `SupconFusedGelu` (exact or
 * tanh) and attention's `SupconScaledSoftmax`, each with a one-kernel gradient (src/cc/transformer.cc), and
 * the whole multi-head attention `SupconAttention` with its gradient (src/cc/attention.cc, products
 * in the engine's precision). LayerNorm and softmax read fp32 (bf16 storage is widened by `f32()`);
 * in bf16 mode GELU and attention (and their gradients) read bf16 storage as it is, and the LayerNorm,
 * GELU and attention outputs and the GELU and attention input gradients are bf16 storage, as the
 * conv activations are: they feed the linear layers (SupconAutocastMatMul, SupconLinearGrad), which
 * take bf16 operands as they are.
 */
import { engine, type GradConfig, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  kernelAttrs,
  SupconAttention,
  SupconAttentionGrad,
  SupconFusedGelu,
  SupconFusedGeluGrad,
  SupconFusedLayerNorm,
  SupconFusedLayerNormGrad,
  SupconScaledSoftmax,
  SupconScaledSoftmaxGrad,
} from 'supcon/kernels';
import {
  type Activation,
  asStored,
  bf16Activations,
  f32,
  type NativeKernel,
  output,
  outputActivation,
} from './util.js';

/** `v`, or (null: `t` is not a float32 tensor) an argument error naming input `name` of `kernel`. */
function required<T>(v: T | null, t: TensorInfo | undefined, kernel: string, name: string): T {
  if (v === null) {
    throw new TypeError(
      `${kernel}: expected input \`${name}\` as a float32 tensor, received ${t ? `${t.dtype} [${t.shape}]` : 'none'}`,
    );
  }
  return v;
}

/** The fp32 storage of input `name` of `kernel`, or an argument error saying what it received. */
function input(
  backend: Parameters<typeof f32>[0],
  t: TensorInfo | undefined,
  kernel: string,
  name: string,
): Float32Array {
  return required(f32(backend, t), t, kernel, name);
}

/**
 * Input `name` of `kernel` as the kernels that take either storage read it: as stored in bf16 mode
 * (bf16 storage stays bf16), as fp32 otherwise (bf16 storage widened), or an argument error.
 */
function either(
  backend: Parameters<typeof f32>[0],
  t: TensorInfo | undefined,
  kernel: string,
  name: string,
): Activation {
  return required(asStored(backend, t, bf16Activations()), t, kernel, name);
}

export const layerNormKernel: NativeKernel = {
  kernelName: SupconFusedLayerNorm,
  run: ({ inputs, backend, attrs }, addon) => {
    const { x, gamma, beta } = inputs as Record<string, TensorInfo | undefined>;
    const K = SupconFusedLayerNorm;
    const xv = input(backend, x, K, 'x'); // [..., D]
    const shape = x!.shape;
    const d = shape[shape.length - 1] ?? 1;
    const rows = xv.length / d;
    const [y, makeY] = outputActivation(backend, [...shape]); // [..., D], bf16 in bf16 mode
    const [mean, makeMean] = output(backend, [rows]); // [rows]
    const [invStd, makeInvStd] = output(backend, [rows]); // [rows]
    const { epsilon } = kernelAttrs(K, attrs);
    addon.layerNorm(
      xv,
      d,
      input(backend, gamma, K, 'gamma'),
      input(backend, beta, K, 'beta'),
      epsilon,
      y,
      mean,
      invStd,
    );
    return [makeY(), makeMean(), makeInvStd()];
  },
};

export const layerNormGradKernel: NativeKernel = {
  kernelName: SupconFusedLayerNormGrad,
  run: ({ inputs, backend }, addon) => {
    const { dy, x, gamma, mean, invStd } = inputs as Record<string, TensorInfo | undefined>;
    const K = SupconFusedLayerNormGrad;
    const xv = input(backend, x, K, 'x'); // [..., D]
    const shape = x!.shape;
    const d = shape[shape.length - 1] ?? 1;
    const [dx, makeDx] = output(backend, [...shape]);
    const [dgamma, makeDgamma] = output(backend, [d]);
    const [dbeta, makeDbeta] = output(backend, [d]);
    addon.layerNormGrad(
      input(backend, dy, K, 'dy'),
      xv,
      d,
      input(backend, gamma, K, 'gamma'),
      input(backend, mean, K, 'mean'),
      input(backend, invStd, K, 'invStd'),
      dx,
      dgamma,
      dbeta,
    );
    return [makeDx(), makeDgamma(), makeDbeta()];
  },
};

export const geluKernel: NativeKernel = {
  kernelName: SupconFusedGelu,
  run: ({ inputs, backend, attrs }, addon) => {
    const { x } = inputs as Record<string, TensorInfo | undefined>;
    const xv = either(backend, x, SupconFusedGelu, 'x'); // a linear layer's output, bf16 in bf16 mode
    const [y, make] = outputActivation(backend, [...x!.shape]); // bf16 in bf16 mode
    addon.gelu(xv, kernelAttrs(SupconFusedGelu, attrs).approximate === 'tanh', y);
    return make();
  },
};

export const geluGradKernel: NativeKernel = {
  kernelName: SupconFusedGeluGrad,
  run: ({ inputs, backend, attrs }, addon) => {
    const { dy, x } = inputs as Record<string, TensorInfo | undefined>;
    const xv = either(backend, x, SupconFusedGeluGrad, 'x');
    // bf16 in bf16 mode: it feeds the gradient of the linear layer before the GELU only.
    const [dx, make] = outputActivation(backend, [...x!.shape]);
    const tanh = kernelAttrs(SupconFusedGeluGrad, attrs).approximate === 'tanh';
    addon.geluGrad(either(backend, dy, SupconFusedGeluGrad, 'dy'), xv, tanh, dx);
    return make();
  },
};

/** Gradient of `SupconFusedLayerNorm`: saved = [x, gamma, y, mean, invStd]. */
export const layerNormGradConfig: GradConfig = {
  kernelName: SupconFusedLayerNorm,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys: Tensor | Tensor[], saved: Tensor[], attrs) => {
    const [x, gamma, mean, invStd] = saved as [Tensor, Tensor, Tensor, Tensor];
    const dy = Array.isArray(dys) ? dys[0]! : dys;
    const { epsilon } = kernelAttrs(SupconFusedLayerNorm, attrs);
    const [dx, dgamma, dbeta] = engine().runKernel(
      SupconFusedLayerNormGrad,
      { dy, x, gamma, mean, invStd },
      { epsilon },
    ) as unknown as Tensor[];
    return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
  },
};

/** Gradient of `SupconFusedGelu`: saved = [x]. */
export const geluGradConfig: GradConfig = {
  kernelName: SupconFusedGelu,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs) => {
    const { approximate } = kernelAttrs(SupconFusedGelu, attrs);
    const grad = Array.isArray(dy) ? dy[0]! : dy;
    return {
      x: () => engine().runKernel(SupconFusedGeluGrad, { dy: grad, x: saved[0]! }, { approximate }) as Tensor,
    };
  },
};

/** The last axis of `t` (the softmax's row length); 1 for a scalar. */
const lastAxis = (t: TensorInfo) => t.shape[t.shape.length - 1] ?? 1;

export const scaledSoftmaxKernel: NativeKernel = {
  kernelName: SupconScaledSoftmax,
  run: ({ inputs, backend, attrs }, addon) => {
    const { logits } = inputs as Record<string, TensorInfo | undefined>;
    const xv = input(backend, logits, SupconScaledSoftmax, 'logits'); // [..., n]
    const [y, make] = output(backend, [...logits!.shape]); // [..., n]
    addon.scaledSoftmax(xv, lastAxis(logits!), kernelAttrs(SupconScaledSoftmax, attrs).scale, y);
    return make();
  },
};

export const scaledSoftmaxGradKernel: NativeKernel = {
  kernelName: SupconScaledSoftmaxGrad,
  run: ({ inputs, backend, attrs }, addon) => {
    const { dy, y } = inputs as Record<string, TensorInfo | undefined>;
    const K = SupconScaledSoftmaxGrad;
    const yv = input(backend, y, K, 'y'); // [..., n]
    const [dx, make] = output(backend, [...y!.shape]); // [..., n]
    addon.scaledSoftmaxGrad(input(backend, dy, K, 'dy'), yv, lastAxis(y!), kernelAttrs(K, attrs).scale, dx);
    return make();
  },
};

/** Gradient of `SupconScaledSoftmax`: saved = [y] (the output only, as tfjs's Softmax). */
export const scaledSoftmaxGradConfig: GradConfig = {
  kernelName: SupconScaledSoftmax,
  outputsToSave: [true],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs) => {
    const { scale } = kernelAttrs(SupconScaledSoftmax, attrs);
    const grad = Array.isArray(dy) ? dy[0]! : dy;
    return {
      logits: () =>
        engine().runKernel(SupconScaledSoftmaxGrad, { dy: grad, y: saved[0]! }, { scale }) as Tensor,
    };
  },
};

/** [B, T, heads, d] of an attention over qkv [B, T, 3D], or an argument error. */
function attentionShape(qkv: TensorInfo, heads: number, kernel: string): [number, number, number, number] {
  const [b, t, width] = qkv.shape as [number, number, number];
  if (qkv.shape.length !== 3 || !Number.isInteger(heads) || heads <= 0 || width % (3 * heads) !== 0) {
    throw new TypeError(
      `${kernel}: expected qkv [B, T, 3D] with 3D a multiple of 3·heads, received [${qkv.shape}] with heads=${heads}`,
    );
  }
  return [b, t, heads, width / 3 / heads];
}

export const attentionKernel: NativeKernel = {
  kernelName: SupconAttention,
  run: ({ inputs, backend, attrs }, addon) => {
    const { qkv } = inputs as Record<string, TensorInfo | undefined>;
    const K = SupconAttention;
    const x = either(backend, qkv, K, 'qkv'); // [B, T, 3D], bf16 in bf16 mode
    const shape = attentionShape(qkv!, kernelAttrs(K, attrs).heads, K);
    const [b, t, h, d] = shape;
    const [o, makeO] = outputActivation(backend, [b, t, h * d]); // [B, T, D], bf16 in bf16 mode
    const [p, makeP] = output(backend, [b, h, t, t]); // [B, H, T, T]
    addon.attention(x, shape, 1 / Math.sqrt(d), bf16Activations(), o, p);
    return [makeO(), makeP()];
  },
};

export const attentionGradKernel: NativeKernel = {
  kernelName: SupconAttentionGrad,
  run: ({ inputs, backend, attrs }, addon) => {
    const { dy, qkv, p } = inputs as Record<string, TensorInfo | undefined>;
    const K = SupconAttentionGrad;
    const x = either(backend, qkv, K, 'qkv'); // [B, T, 3D]
    const shape = attentionShape(qkv!, kernelAttrs(K, attrs).heads, K);
    // [B, T, 3D], bf16 in bf16 mode: it feeds the q/k/v projection's gradient only.
    const [dqkv, make] = outputActivation(backend, [...qkv!.shape]);
    const scale = 1 / Math.sqrt(shape[3]);
    addon.attentionGrad(
      either(backend, dy, K, 'dy'),
      x,
      input(backend, p, K, 'p'),
      shape,
      scale,
      bf16Activations(),
      dqkv,
    );
    return make();
  },
};

/** Gradient of `SupconAttention`: saved = [qkv, p]; the p output has no gradient of its own. */
export const attentionGradConfig: GradConfig = {
  kernelName: SupconAttention,
  inputsToSave: ['qkv'],
  outputsToSave: [false, true],
  gradFunc: (dys: Tensor | Tensor[], saved: Tensor[], attrs) => {
    const [qkv, p] = saved as [Tensor, Tensor];
    const dy = Array.isArray(dys) ? dys[0]! : dys;
    const { heads } = kernelAttrs(SupconAttention, attrs);
    return { qkv: () => engine().runKernel(SupconAttentionGrad, { dy, qkv, p }, { heads }) as Tensor };
  },
};
