/**
 * Batch normalisation over the channel (last) axis as single native kernels:
 * - `SupconBatchNorm` (training): y = relu?(gamma * (x - mean) / sqrt(var + eps) + beta + residual?)
 *   with batch statistics; outputs [y, mean, variance]. Its gradient is one `SupconBatchNormGrad`
 *   kernel instead of tfjs's ~25-op graph. The `supcon` core uses it when the active backend has
 *   it (see packages/supcon/src/models/batch_norm.ts; the kernel names are shared by convention).
 * - tfjs's own `FusedBatchNorm` (inference, moving statistics).
 */
import { engine, type GradConfig, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import { activation, f32, type NativeKernel, output, outputActivation } from './util.js';

export const BATCH_NORM = 'SupconBatchNorm';
export const BATCH_NORM_GRAD = 'SupconBatchNormGrad';

interface BatchNormAttrs {
  epsilon: number;
  relu: boolean;
}

export const batchNormTrainKernel: NativeKernel = {
  kernelName: BATCH_NORM,
  run: ({ inputs, backend, attrs }, addon) => {
    const { x, scale, offset, residual } = inputs as Record<string, TensorInfo | undefined>;
    const { epsilon, relu } = attrs as unknown as BatchNormAttrs;
    const xv = activation(backend, x);
    const gv = f32(backend, scale);
    const bv = f32(backend, offset);
    const rv = residual ? activation(backend, residual) : null;
    if (!x || !xv || !gv || !bv || (residual && !rv)) {
      throw new Error(`${BATCH_NORM}: expected float32 inputs`);
    }
    const c = x.shape[x.shape.length - 1]!;
    const [y, makeY] = outputActivation(backend, [...x.shape]);
    const [mean, makeMean] = output(backend, [c]);
    const [variance, makeVar] = output(backend, [c]);
    addon.batchNormTrain(xv, c, gv, bv, rv, epsilon, relu, y, mean, variance);
    return [makeY(), makeMean(), makeVar()];
  },
};

export const batchNormGradKernel: NativeKernel = {
  kernelName: BATCH_NORM_GRAD,
  run: ({ inputs, backend, attrs }, addon) => {
    const { dy, x, y, scale, mean, variance } = inputs as Record<string, TensorInfo>;
    const { epsilon, relu, residual } = attrs as unknown as BatchNormAttrs & { residual: boolean };
    const c = x!.shape[x!.shape.length - 1]!;
    const [dx, makeDx] = outputActivation(backend, [...x!.shape]);
    const [dscale, makeDscale] = output(backend, [c]);
    const [doffset, makeDoffset] = output(backend, [c]);
    const [dres, makeDres] = residual ? outputActivation(backend, [...x!.shape]) : [null, null];
    addon.batchNormGrad(
      activation(backend, dy)!,
      activation(backend, x)!,
      relu ? activation(backend, y)! : null,
      c,
      f32(backend, scale)!,
      f32(backend, mean)!,
      f32(backend, variance)!,
      epsilon,
      dx,
      dscale,
      doffset,
      dres,
    );
    const outs = [makeDx(), makeDscale(), makeDoffset()];
    if (makeDres) outs.push(makeDres());
    return outs;
  },
};

/** tfjs's inference batch norm (moving statistics), channels-last with per-channel parameters. */
export const fusedBatchNormKernel: NativeKernel = {
  kernelName: 'FusedBatchNorm',
  run: ({ inputs, backend, attrs }, addon) => {
    const { x, mean, variance, offset, scale } = inputs as Record<string, TensorInfo | undefined>;
    if (!x || !mean || !variance || !offset || !scale) return null;
    const c = x.shape[x.shape.length - 1];
    const xv = f32(backend, x);
    const params = [mean, variance, offset, scale].map((t) => f32(backend, t));
    if (!xv || c === undefined || params.some((p) => !p || p.length !== c)) return null;
    const [mv, vv, ov, sv] = params as Float32Array[];
    const [y, make] = output(backend, [...x.shape]);
    const eps = (attrs?.['varianceEpsilon'] as number | undefined) ?? 0.001;
    addon.batchNormInfer(xv, c, sv!, ov!, mv!, vv!, null, eps, false, y);
    return make();
  },
};

/** Gradient of `SupconBatchNorm`: saved = [x, scale, y, mean, variance]. */
export const batchNormGradConfig: GradConfig = {
  kernelName: BATCH_NORM,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [true, true, true],
  gradFunc: (dys: Tensor | Tensor[], saved: Tensor[], attrs) => {
    const [x, scale, y, mean, variance] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const dy = Array.isArray(dys) ? dys[0]! : dys;
    const { epsilon, relu, residual } = attrs as unknown as BatchNormAttrs & { residual: boolean };
    const grads = engine().runKernel(
      BATCH_NORM_GRAD,
      { dy, x, y, scale, mean, variance },
      { epsilon, relu, residual },
    ) as unknown as Tensor[];
    const result: Record<string, () => Tensor> = {
      x: () => grads[0]!,
      scale: () => grads[1]!,
      offset: () => grads[2]!,
    };
    if (residual) result['residual'] = () => grads[3]!;
    return result;
  },
};
