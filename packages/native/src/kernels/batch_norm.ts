/**
 * Batch normalisation over the channel (last) axis as single native kernels:
 * - `SupconBatchNorm` (training): y = relu?(gamma * (x - mean) / sqrt(var + eps) + beta + residual?)
 *   with batch statistics; outputs [y, mean, variance]. Its gradient is one `SupconBatchNormGrad`
 *   kernel instead of tfjs's ~25-op graph. Both are declared in the core's kernels.ts, whose
 *   models/batch_norm.ts calls them when the active backend has them.
 * - tfjs's own `FusedBatchNorm` (inference, moving statistics).
 */
import { engine, type GradConfig, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import { kernelAttrs, SupconBatchNorm, SupconBatchNormGrad, SupconRunningStats } from 'supcon/kernels';
import { activation, f32, type NativeKernel, output, outputActivation } from './util.js';

/** Input `name` of `kernel`, or an argument error saying what it received. */
function present(t: TensorInfo | undefined, kernel: string, name: string): TensorInfo {
  if (!t) throw new TypeError(`${kernel}: expected input \`${name}\` as a float32 tensor, received none`);
  return t;
}

/** The storage of input `name` of `kernel`, or an argument error saying what it received. */
function required<T>(value: T | null, kernel: string, name: string, t: TensorInfo | undefined): T {
  if (value === null) {
    throw new TypeError(
      `${kernel}: expected input \`${name}\` as a float32 tensor, received ${t ? `${t.dtype} [${t.shape}]` : 'none'}`,
    );
  }
  return value;
}

export const batchNormTrainKernel: NativeKernel = {
  kernelName: SupconBatchNorm,
  run: ({ inputs, backend, attrs }, addon) => {
    const { x, scale, offset, residual } = inputs as Record<string, TensorInfo | undefined>;
    const { epsilon, relu } = kernelAttrs(SupconBatchNorm, attrs);
    const xv = required(activation(backend, x), SupconBatchNorm, 'x', x);
    const gv = required(f32(backend, scale), SupconBatchNorm, 'scale', scale);
    const bv = required(f32(backend, offset), SupconBatchNorm, 'offset', offset);
    const rv = residual
      ? required(activation(backend, residual), SupconBatchNorm, 'residual', residual)
      : null;
    const shape = present(x, SupconBatchNorm, 'x').shape;
    const c = shape[shape.length - 1] ?? 1;
    const [y, makeY] = outputActivation(backend, [...shape]);
    const [mean, makeMean] = output(backend, [c]);
    const [variance, makeVar] = output(backend, [c]);
    addon.batchNormTrain(xv, c, gv, bv, rv, epsilon, relu, y, mean, variance);
    return [makeY(), makeMean(), makeVar()];
  },
};

export const batchNormGradKernel: NativeKernel = {
  kernelName: SupconBatchNormGrad,
  run: ({ inputs, backend, attrs }, addon) => {
    const { dy, x, y, scale, mean, variance } = inputs as Record<string, TensorInfo | undefined>;
    const { epsilon, relu, residual } = kernelAttrs(SupconBatchNormGrad, attrs);
    const K = SupconBatchNormGrad;
    const dyv = required(activation(backend, dy), K, 'dy', dy);
    const xv = required(activation(backend, x), K, 'x', x);
    const yv = relu ? required(activation(backend, y), K, 'y', y) : null;
    const sv = required(f32(backend, scale), K, 'scale', scale);
    const mv = required(f32(backend, mean), K, 'mean', mean);
    const vv = required(f32(backend, variance), K, 'variance', variance);
    const shape = present(x, K, 'x').shape;
    const c = shape[shape.length - 1] ?? 1;
    const [dx, makeDx] = outputActivation(backend, [...shape]);
    const [dscale, makeDscale] = output(backend, [c]);
    const [doffset, makeDoffset] = output(backend, [c]);
    const [dres, makeDres] = residual ? outputActivation(backend, [...shape]) : [null, null];
    addon.batchNormGrad(dyv, xv, yv, c, sv, mv, vv, epsilon, dx, dscale, doffset, dres);
    const outs = [makeDx(), makeDscale(), makeDoffset()];
    if (makeDres) outs.push(makeDres());
    return outs;
  },
};

/**
 * The running-statistics update (kernels.ts gives the rule): [C] values, so a JavaScript loop in
 * float64 with one rounding per value, instead of seven tfjs ops.
 */
export const runningStatsKernel: NativeKernel = {
  kernelName: SupconRunningStats,
  run: ({ inputs, backend, attrs }) => {
    const { runningMean, runningVar, mean, variance } = inputs as Record<string, TensorInfo | undefined>;
    const { momentum, count } = kernelAttrs(SupconRunningStats, attrs);
    const K = SupconRunningStats;
    const rm = required(f32(backend, runningMean), K, 'runningMean', runningMean);
    const rv = required(f32(backend, runningVar), K, 'runningVar', runningVar);
    const bm = required(f32(backend, mean), K, 'mean', mean);
    const bv = required(f32(backend, variance), K, 'variance', variance);
    const c = rm.length;
    if (rv.length !== c || bm.length !== c || bv.length !== c) {
      throw new TypeError(
        `${K}: expected runningMean, runningVar, mean and variance of one length, received ${[rm, rv, bm, bv].map((a) => a.length).join(', ')}`,
      );
    }
    const unbias = count / Math.max(1, count - 1);
    const [newMean, makeMean] = output(backend, [c]);
    const [newVar, makeVar] = output(backend, [c]);
    for (let i = 0; i < c; i++) {
      newMean[i] = (1 - momentum) * rm[i]! + momentum * bm[i]!;
      newVar[i] = (1 - momentum) * rv[i]! + momentum * bv[i]! * unbias;
    }
    return [makeMean(), makeVar()];
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
  kernelName: SupconBatchNorm,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [true, true, true],
  gradFunc: (dys: Tensor | Tensor[], saved: Tensor[], attrs) => {
    const [x, scale, y, mean, variance] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const dy = Array.isArray(dys) ? dys[0]! : dys;
    const { epsilon, relu, residual } = kernelAttrs(SupconBatchNorm, attrs);
    const grads = engine().runKernel(
      SupconBatchNormGrad,
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
