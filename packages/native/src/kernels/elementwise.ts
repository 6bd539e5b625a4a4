/** Broadcasting binary ops and unary maths (float32; other dtypes fall back to the cpu kernels). */
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';
import { f32, type NativeKernel, output, outputBf16 } from './util.js';

// Op codes shared with src/cc/elementwise.cc.
const BINARY: Record<string, number> = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  Maximum: 4,
  Minimum: 5,
  SquaredDifference: 6,
  Pow: 7,
};

const UNARY: Record<string, number> = {
  Exp: 0,
  Log: 1,
  Neg: 2,
  Sqrt: 3,
  Rsqrt: 4,
  Square: 5,
  Abs: 6,
  Relu: 7,
  Sigmoid: 8,
  Tanh: 9,
  Reciprocal: 10,
  Log1p: 11,
  Expm1: 12,
};

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export const binaryKernels: NativeKernel[] = Object.entries(BINARY).map(([kernelName, op]) => ({
  kernelName,
  run: ({ inputs, backend }, addon) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    if (
      op === BINARY['Add'] &&
      a.dtype === 'float32' &&
      b.dtype === 'float32' &&
      sameShape(a.shape, b.shape)
    ) {
      // Gradient accumulation of two bf16 activation gradients stays bf16 (precision.ts).
      const ad = backend.data.get(a.dataId)?.values;
      const bd = backend.data.get(b.dataId)?.values;
      if (ad instanceof Uint16Array && bd instanceof Uint16Array) {
        const [out, make] = outputBf16(backend, [...a.shape]);
        addon.addBf16(ad, bd, out);
        return make();
      }
    }
    const av = f32(backend, a);
    const bv = f32(backend, b);
    if (!av || !bv) return null;
    const shape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const [out, make] = output(backend, shape);
    addon.binary(op, av, a.shape, bv, b.shape, out, shape);
    return make();
  },
}));

export const unaryKernels: NativeKernel[] = Object.entries(UNARY).map(([kernelName, op]) => ({
  kernelName,
  run: ({ inputs, backend }, addon) => {
    const { x } = inputs as { x: TensorInfo };
    const xv = f32(backend, x);
    if (!xv) return null;
    const [out, make] = output(backend, [...x.shape]);
    addon.unary(op, xv, out);
    return make();
  },
}));
