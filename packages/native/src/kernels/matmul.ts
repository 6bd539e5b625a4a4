/** BatchMatMul and _FusedMatMul (bias over the last axis, linear or ReLU) on oneDNN's matmul. */

import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BatchMatMulAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../addon.js';
import { f32, type NativeKernel, output, sizeOf } from './util.js';

function run(
  backend: MathBackendCPU,
  addon: NativeAddon,
  a: TensorInfo,
  b: TensorInfo,
  attrs: BatchMatMulAttrs,
  bias: TensorInfo | undefined,
  activation: number,
): TensorInfo | null {
  const av = f32(backend, a);
  const bv = f32(backend, b);
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
  const [out, make] = output(backend, [...batchShape, m, n]);
  addon.matmul(
    av,
    [batchA, a1, a2],
    bv,
    [batchB, b1, b2],
    out,
    attrs.transposeA,
    attrs.transposeB,
    biasValues,
    activation,
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
