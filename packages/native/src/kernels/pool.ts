/** MaxPool, AvgPool and their gradients on oneDNN pooling (NHWC, no dilation). */
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';
import { f32, type NativeKernel, output } from './util.js';

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function poolInfo(xShape: number[], attrs: PoolAttrs): [backend_util.Conv2DInfo, number[]] {
  const info = backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const p = info.padInfo;
  return [
    info,
    [
      info.filterHeight,
      info.filterWidth,
      info.strideHeight,
      info.strideWidth,
      p.top,
      p.left,
      p.bottom,
      p.right,
    ],
  ];
}

function forward(kernelName: string, isMax: boolean): NativeKernel {
  return {
    kernelName,
    run: ({ inputs, backend, attrs }, addon) => {
      const { x } = inputs as { x: TensorInfo };
      const xv = f32(backend, x);
      if (!xv || x.shape.length !== 4) return null;
      const [info, params] = poolInfo(x.shape, attrs as unknown as PoolAttrs);
      const [y, make] = output(backend, info.outShape);
      addon.pool2d(xv, x.shape, y, info.outShape, params, isMax);
      return make();
    },
  };
}

function backward(kernelName: string, isMax: boolean): NativeKernel {
  return {
    kernelName,
    run: ({ inputs, backend, attrs }, addon) => {
      const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
      const dyv = f32(backend, dy);
      const xv = f32(backend, input);
      if (!dyv || !xv || input.shape.length !== 4) return null;
      const [info, params] = poolInfo(input.shape, attrs as unknown as PoolAttrs);
      // tfjs's AvgPoolGrad divides by the whole window even where it overlaps padding (unlike its
      // forward, which excludes padding); keep its semantics by leaving padded cases to the cpu kernel.
      if (!isMax && params.slice(4).some((p) => p > 0)) return null;
      const [dx, make] = output(backend, [...input.shape]);
      addon.pool2dBackward(dyv, isMax ? xv : null, dx, input.shape, info.outShape, params, isMax);
      return make();
    },
  };
}

export const poolKernels: NativeKernel[] = [
  forward('MaxPool', true),
  forward('AvgPool', false),
  backward('MaxPoolGrad', true),
  backward('AvgPoolGrad', false),
];
