/**
 * BatchMatMul and _FusedMatMul (bias over the last axis, linear or ReLU) on oneDNN's matmul, and
 * the encoder's SupconAutocastMatMul (supcon/kernels), which runs in bf16 with fp32 accumulation
 * while setPrecision('bf16') is in effect, and a linear layer's whole gradient SupconLinearGrad in
 * the same precision. Every output is fp32.
 */

import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BatchMatMulAttrs, GradConfig, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { engine, reshape, sum } from '@tensorflow/tfjs-core';
import {
  kernelAttrs,
  SupconAutocastMatMul,
  type SupconAutocastMatMulAttrs,
  type SupconAutocastMatMulInputs,
  SupconLinearGrad,
  type SupconLinearGradInputs,
} from 'supcon/kernels';
import type { NativeAddon } from '../addon.js';
import { asStored, bf16Activations, f32, type NativeKernel, output, outputBf16, sizeOf } from './util.js';

function run(
  backend: MathBackendCPU,
  addon: NativeAddon,
  a: TensorInfo,
  b: TensorInfo,
  attrs: BatchMatMulAttrs,
  bias: TensorInfo | undefined,
  act: number,
  bf16 = false,
  bf16Out = false,
  residual?: TensorInfo,
): TensorInfo | null {
  // bf16: either storage as it is (the addon narrows fp32); fp32: bf16 storage is widened.
  const av = asStored(backend, a, bf16);
  const bv = asStored(backend, b, bf16);
  if (!av || !bv || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchA = sizeOf(batchShapeA);
  const batchB = sizeOf(batchShapeB);
  // Only equal batch shapes or a batch of one on either side (general broadcasting falls back).
  let batchShape: number[];
  if (batchA === 1) batchShape = batchShapeB.length >= batchShapeA.length ? batchShapeB : batchShapeA;
  else if (batchB === 1) batchShape = batchShapeA.length >= batchShapeB.length ? batchShapeA : batchShapeB;
  else if (batchShapeA.join() === batchShapeB.join()) batchShape = batchShapeA;
  else return null;
  const [a1, a2] = [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const [b1, b2] = [b.shape[rb - 2]!, b.shape[rb - 1]!];
  const m = attrs.transposeA ? a2 : a1;
  const k = attrs.transposeA ? a1 : a2;
  const kb = attrs.transposeB ? b2 : b1;
  const n = attrs.transposeB ? b1 : b2;
  if (k !== kb) return null;
  let biasValues: Float32Array | null = null;
  if (bias) {
    biasValues = f32(backend, bias);
    if (!biasValues || biasValues.length !== n) return null;
  }
  let residualValues: Float32Array | null = null;
  if (residual) {
    residualValues = f32(backend, residual);
    if (!residualValues || bf16Out || residualValues.length !== sizeOf(batchShape) * m * n) return null;
  }
  const [out, make] = (bf16 && bf16Out ? outputBf16 : output)(backend, [...batchShape, m, n]);
  addon.matmul(
    av,
    [batchA, a1, a2],
    bv,
    [batchB, b1, b2],
    out,
    attrs.transposeA,
    attrs.transposeB,
    biasValues,
    act,
    bf16,
    residualValues,
  );
  return make();
}

export const batchMatMulKernel: NativeKernel = {
  kernelName: 'BatchMatMul',
  run: ({ inputs, backend, attrs }, addon) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    return run(backend, addon, a, b, attrs as unknown as BatchMatMulAttrs, undefined, 0);
  },
};

export const fusedMatMulKernel: NativeKernel = {
  kernelName: '_FusedMatMul',
  run: ({ inputs, backend, attrs }, addon) => {
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const { activation } = attrs as { activation: string };
    if (!a || !b || preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return null;
    return run(
      backend,
      addon,
      a,
      b,
      attrs as unknown as BatchMatMulAttrs,
      bias,
      activation === 'relu' ? 1 : 0,
    );
  },
};

export const autocastMatMulKernel: NativeKernel = {
  kernelName: SupconAutocastMatMul,
  run: ({ inputs, backend, attrs }, addon) => {
    const { a, b, bias, residual } = inputs as unknown as SupconAutocastMatMulInputs;
    const { transposeA, transposeB, reducedOutput } = kernelAttrs(SupconAutocastMatMul, attrs);
    if (a.shape.length !== b.shape.length) return null; // the contract: equal ranks
    const bf16 = bf16Activations();
    return run(
      backend,
      addon,
      a,
      b,
      { transposeA, transposeB },
      bias,
      0,
      bf16,
      reducedOutput === true,
      residual,
    );
  },
};

/** The product's gradient through the same kernel (so in the same precision): the usual four cases. */
export const autocastMatMulGradConfig: GradConfig = {
  kernelName: SupconAutocastMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved as [Tensor, Tensor];
    const { transposeA: ta, transposeB: tb } = kernelAttrs(SupconAutocastMatMul, attrs);
    const g = dy as Tensor;
    const mm = (x: Tensor, y: Tensor, transposeA: boolean, transposeB: boolean): Tensor => {
      const attr: SupconAutocastMatMulAttrs = { transposeA, transposeB };
      return engine().runKernel(SupconAutocastMatMul, { a: x, b: y }, { ...attr }) as Tensor;
    };
    // y = op(a) op(b): d op(a) = g op(b)ᵀ and d op(b) = op(a)ᵀ g, transposed back where op transposes.
    return {
      a: () => (ta ? mm(b, g, tb, true) : mm(g, b, false, !tb)),
      b: () => (tb ? mm(g, a, true, ta) : mm(a, g, !ta, false)),
      bias: () => sum(reshape(g, [-1, g.shape[g.rank - 1]!]), 0),
      residual: () => g,
    };
  },
};

export const linearGradKernel: NativeKernel = {
  kernelName: SupconLinearGrad,
  run: ({ inputs, backend, attrs }, addon) => {
    const { dy, x, w } = inputs as unknown as SupconLinearGradInputs;
    const bf16 = bf16Activations();
    const bf16Dx = bf16 && kernelAttrs(SupconLinearGrad, attrs).reducedDx === true;
    const g = asStored(backend, dy, bf16);
    const xv = asStored(backend, x, bf16);
    const wv = f32(backend, w);
    const [k, n] = w.shape as [number, number];
    const rows = sizeOf(dy.shape) / n;
    if (
      w.shape.length !== 2 ||
      dy.shape[dy.shape.length - 1] !== n ||
      x.shape[x.shape.length - 1] !== k ||
      sizeOf(x.shape) !== rows * k
    ) {
      throw new TypeError(
        `${SupconLinearGrad}: expected dy [..., N], x [..., K] with as many rows and w [K, N], received dy [${dy.shape}], x [${x.shape}], w [${w.shape}]`,
      );
    }
    if (!g || !xv || !wv) {
      throw new TypeError(
        `${SupconLinearGrad}: expected float32 dy, x and w, received ${dy.dtype}, ${x.dtype} and ${w.dtype}`,
      );
    }
    const [dx, makeDx] = (bf16Dx ? outputBf16 : output)(backend, [...x.shape]); // [..., K]
    const [dw, makeDw] = output(backend, [k, n]); // [K, N]
    const [db, makeDb] = output(backend, [n]); // [N]
    addon.linearGrad(g, xv, wv, dx, dw, db, bf16);
    return [makeDx(), makeDw(), makeDb()];
  },
};
