/**
 * The ViT's fused kernels (declared in the core's kernels.ts; transformer_ops.ts calls them when
 * the active backend has them): `SupconFusedLayerNorm` over the last axis and `SupconFusedGelu` (exact or
 * tanh), each with a one-kernel gradient (src/cc/transformer.cc). fp32 storage only: bf16 inputs
 * are widened by `f32()`.
 */
import { engine, type GradConfig, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  kernelAttrs,
  SupconFusedGelu,
  SupconFusedGeluGrad,
  SupconFusedLayerNorm,
  SupconFusedLayerNormGrad,
} from 'supcon/kernels';
import { f32, type NativeKernel, output } from './util.js';

/** The fp32 storage of input `name` of `kernel`, or an argument error saying what it received. */
function input(
  backend: Parameters<typeof f32>[0],
  t: TensorInfo | undefined,
  kernel: string,
  name: string,
): Float32Array {
  const v = f32(backend, t);
  if (v === null) {
    throw new TypeError(
      `${kernel}: expected input \`${name}\` as a float32 tensor, received ${t ? `${t.dtype} [${t.shape}]` : 'none'}`,
    );
  }
  return v;
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
    const [y, makeY] = output(backend, [...shape]); // [..., D]
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
    const xv = input(backend, x, SupconFusedGelu, 'x');
    const [y, make] = output(backend, [...x!.shape]);
    addon.gelu(xv, kernelAttrs(SupconFusedGelu, attrs).approximate === 'tanh', y);
    return make();
  },
};

export const geluGradKernel: NativeKernel = {
  kernelName: SupconFusedGeluGrad,
  run: ({ inputs, backend, attrs }, addon) => {
    const { dy, x } = inputs as Record<string, TensorInfo | undefined>;
    const xv = input(backend, x, SupconFusedGeluGrad, 'x');
    const [dx, make] = output(backend, [...x!.shape]);
    const tanh = kernelAttrs(SupconFusedGeluGrad, attrs).approximate === 'tanh';
    addon.geluGrad(input(backend, dy, SupconFusedGeluGrad, 'dy'), xv, tanh, dx);
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
