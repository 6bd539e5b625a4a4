/** Conv2D, FusedConv2D and their two backward kernels on oneDNN (NHWC only; NCHW falls back). */
import {
  backend_util,
  type Conv2DAttrs,
  type FusedConv2DAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { activation, bf16Activations, f32, type NativeKernel, output, outputActivation } from './util.js';

type Shape4 = [number, number, number, number];

// [strideH, strideW, dilationH, dilationW, padTop, padLeft, padBottom, padRight]
function params(info: backend_util.Conv2DInfo): number[] {
  const p = info.padInfo;
  return [
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
  ];
}

function conv2dInfo(xShape: number[], wShape: number[], attrs: Conv2DAttrs): backend_util.Conv2DInfo | null {
  if (attrs.dataFormat === 'NCHW') return null;
  return backend_util.computeConv2DInfo(
    xShape as Shape4,
    wShape as Shape4,
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

export const conv2dKernel: NativeKernel = {
  kernelName: 'Conv2D',
  run: ({ inputs, backend, attrs }, addon) => {
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    const xv = activation(backend, x);
    const wv = f32(backend, filter);
    const info = conv2dInfo(x.shape, filter.shape, attrs as unknown as Conv2DAttrs);
    if (!xv || !wv || !info) return null;
    const [y, make] = outputActivation(backend, info.outShape);
    addon.conv2d(xv, x.shape, wv, filter.shape, y, info.outShape, params(info), null, 0, bf16Activations());
    return make();
  },
};

export const fusedConv2dKernel: NativeKernel = {
  kernelName: 'FusedConv2D',
  run: ({ inputs, backend, attrs }, addon) => {
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const a = attrs as unknown as FusedConv2DAttrs;
    if (!x || !filter || preluActivationWeights) return null;
    if (a.activation !== 'linear' && a.activation !== 'relu') return null;
    const xv = activation(backend, x);
    const wv = f32(backend, filter);
    const info = conv2dInfo(x.shape, filter.shape, a);
    if (!xv || !wv || !info) return null;
    let bv: Float32Array | null = null;
    if (bias) {
      bv = f32(backend, bias);
      if (!bv || bv.length !== info.outChannels) return null;
    }
    const [y, make] = outputActivation(backend, info.outShape);
    addon.conv2d(
      xv,
      x.shape,
      wv,
      filter.shape,
      y,
      info.outShape,
      params(info),
      bv,
      a.activation === 'relu' ? 1 : 0,
      bf16Activations(),
    );
    return make();
  },
};

export const conv2dBackpropInputKernel: NativeKernel = {
  kernelName: 'Conv2DBackpropInput',
  run: ({ inputs, backend, attrs }, addon) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Conv2DAttrs & { inputShape: number[] };
    const dyv = activation(backend, dy);
    const wv = f32(backend, filter);
    const info = conv2dInfo(a.inputShape, filter.shape, { ...a, dilations: 1 });
    if (!dyv || !wv || !info) return null;
    const [dx, make] = outputActivation(backend, [...a.inputShape]);
    addon.conv2dBackpropInput(
      dyv,
      dy.shape,
      wv,
      filter.shape,
      dx,
      a.inputShape,
      params(info),
      bf16Activations(),
    );
    return make();
  },
};

export const conv2dBackpropFilterKernel: NativeKernel = {
  kernelName: 'Conv2DBackpropFilter',
  run: ({ inputs, backend, attrs }, addon) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as Conv2DAttrs & { filterShape: number[] };
    const xv = activation(backend, x);
    const dyv = activation(backend, dy);
    const info = conv2dInfo(x.shape, a.filterShape, { ...a, dilations: 1 });
    if (!xv || !dyv || !info) return null;
    const [dw, make] = output(backend, [...a.filterShape]); // weight gradients stay fp32
    addon.conv2dBackpropFilter(
      xv,
      x.shape,
      dyv,
      dy.shape,
      dw,
      a.filterShape,
      params(info),
      bf16Activations(),
    );
    return make();
  },
};
