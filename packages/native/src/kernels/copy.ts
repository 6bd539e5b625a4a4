/**
 * Slice, PadV2 and Concat of float32 tensors as block copies: each copies its region one
 * contiguous run at a time (the innermost axes that the region covers whole, merged), into pooled
 * output storage. The cpu kernels convert every element's index when the region is not one
 * contiguous block, and allocate fresh arrays; in the ViT step these are the class token's
 * Concat, the class-token pooling's Slice and their gradients (SplitV, see split.ts, and PadV2),
 * 60-80 ms each at [512, 50, 192] on the cpu kernels. bf16 inputs are widened (`f32`); other
 * dtypes fall back to the cpu kernels.
 */
import { backend_util, slice_util, type TensorInfo } from '@tensorflow/tfjs-core';
import { f32, type NativeKernel, output, sizeOf } from './util.js';

/** Row-major strides of `shape`. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    s[a] = acc;
    acc *= shape[a]!;
  }
  return s;
}

/**
 * Copies the region of `src` [srcShape] starting at `srcBegin` with extent `size` into `dst`
 * [dstShape] at `dstBegin` (equal ranks, the region inside both).
 */
export function copyRegion(
  src: Float32Array,
  srcShape: readonly number[],
  srcBegin: readonly number[],
  size: readonly number[],
  dst: Float32Array,
  dstShape: readonly number[],
  dstBegin: readonly number[],
): void {
  const rank = size.length;
  if (sizeOf(size) === 0) return;
  if (rank === 0) {
    dst[0] = src[0]!;
    return;
  }
  // The run: axis j and every axis after it, those after it covered whole in both tensors.
  let j = rank - 1;
  let run = size[j]!;
  while (j > 0 && size[j] === srcShape[j] && size[j] === dstShape[j]) {
    j--;
    run *= size[j]!;
  }
  const ss = stridesOf(srcShape);
  const ds = stridesOf(dstShape);
  let from = 0;
  let to = 0;
  for (let a = 0; a < rank; a++) {
    from += srcBegin[a]! * ss[a]!;
    to += dstBegin[a]! * ds[a]!;
  }
  const index = new Array<number>(j).fill(0); // over axes 0 … j−1
  const runs = sizeOf(size.slice(0, j));
  for (let r = 0; r < runs; r++) {
    if (run >= 64) dst.set(src.subarray(from, from + run), to);
    else for (let k = 0; k < run; k++) dst[to + k] = src[from + k]!;
    // Next outer index (odometer), moving both offsets along.
    for (let a = j - 1; a >= 0; a--) {
      index[a]!++;
      from += ss[a]!;
      to += ds[a]!;
      if (index[a]! < size[a]!) break;
      from -= size[a]! * ss[a]!;
      to -= size[a]! * ds[a]!;
      index[a] = 0;
    }
  }
}

export const sliceKernel: NativeKernel = {
  kernelName: 'Slice',
  run: ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: TensorInfo };
    const xv = f32(backend, x);
    if (!xv) return null;
    const { begin, size } = attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b, s] = slice_util.parseSliceParams(x as never, begin, size) as [number[], number[]];
    // One contiguous block: the cpu kernel returns a view of x, copying nothing.
    if (slice_util.isSliceContinous(x.shape, b, s)) return null;
    const [out, make] = output(backend, s);
    copyRegion(xv, x.shape, b, s, out, s, new Array(s.length).fill(0));
    return make();
  },
};

export const padV2Kernel: NativeKernel = {
  kernelName: 'PadV2',
  run: ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: TensorInfo };
    const xv = f32(backend, x);
    if (!xv) return null;
    const { paddings, constantValue } = attrs as unknown as {
      paddings: Array<[number, number]>;
      constantValue: number;
    };
    const before = paddings.map((p) => p[0]);
    const shape = x.shape.map((d, a) => paddings[a]![0] + d + paddings[a]![1]);
    const [out, make] = output(backend, shape);
    out.fill(constantValue);
    copyRegion(xv, x.shape, new Array(x.shape.length).fill(0), x.shape, out, shape, before);
    return make();
  },
};

export const concatKernel: NativeKernel = {
  kernelName: 'Concat',
  run: ({ inputs, backend, attrs }) => {
    const list = Object.values(inputs as Record<string, TensorInfo>);
    if (list.length === 0 || list.some((t) => t.dtype !== 'float32' || t.shape.length === 0)) return null;
    const axis = (attrs as unknown as { axis: number }).axis;
    const along = axis < 0 ? axis + list[0]!.shape.length : axis;
    const shapes = list.map((t) => t.shape);
    backend_util.assertParamsConsistent(shapes, along);
    const shape = backend_util.computeOutShape(shapes, along);
    const values = list.map((t) => f32(backend, t));
    if (values.some((v) => v === null)) return null;
    const [out, make] = output(backend, shape);
    const at = new Array<number>(shape.length).fill(0);
    list.forEach((t, i) => {
      copyRegion(values[i]!, t.shape, new Array(t.shape.length).fill(0), t.shape, out, shape, at);
      at[along]! += t.shape[along]!;
    });
    return make();
  },
};
