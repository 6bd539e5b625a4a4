/** Transpose of float32 tensors by any permutation (other dtypes fall back to the cpu kernel). */
import type { TensorInfo, TransposeAttrs } from '@tensorflow/tfjs-core';
import { f32, type NativeKernel, output } from './util.js';

export const transposeKernel: NativeKernel = {
  kernelName: 'Transpose',
  run: ({ inputs, backend, attrs }, addon) => {
    const { x } = inputs as { x: TensorInfo };
    const { perm } = attrs as unknown as TransposeAttrs;
    const xv = f32(backend, x);
    if (!xv) return null;
    const outShape = perm.map((axis) => x.shape[axis]!);
    const [out, make] = output(backend, outShape);
    addon.transpose(xv, x.shape, perm, out);
    return make();
  },
};
