/** Sum, Mean, Max, Min and Prod over any axes, and Softmax over the last axis. */
import { backend_util, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { f32, type NativeKernel, output } from './util.js';

const OPS: [string, number, string][] = [
  ['Sum', 0, 'axis'],
  ['Mean', 1, 'axis'],
  ['Max', 2, 'reductionIndices'],
  ['Min', 3, 'axis'],
  ['Prod', 4, 'axis'],
];

export const reduceKernels: NativeKernel[] = OPS.map(([kernelName, op, axisAttr]) => ({
  kernelName,
  run: ({ inputs, backend, attrs }, addon) => {
    const { x } = inputs as { x: TensorInfo };
    const xv = f32(backend, x);
    if (!xv || xv.length === 0) return null;
    const axes = util.parseAxisParam(attrs?.[axisAttr] as number | number[], x.shape);
    const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
    const keepDims = attrs?.['keepDims'] === true;
    const shape = keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    const mask = x.shape.map((_, i) => (axes.includes(i) ? 1 : 0));
    const [out, make] = output(backend, shape);
    addon.reduce(op, xv, x.shape, mask, out);
    return make();
  },
}));

export const softmaxKernel: NativeKernel = {
  kernelName: 'Softmax',
  run: ({ inputs, backend, attrs }, addon) => {
    const { logits } = inputs as { logits: TensorInfo };
    const xv = f32(backend, logits);
    const dim = attrs?.['dim'] as number;
    const rank = logits.shape.length;
    if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1)) return null;
    const [out, make] = output(backend, [...logits.shape]);
    addon.softmax(xv, logits.shape[rank - 1]!, out);
    return make();
  },
};
