/**
 * GatherV2 along axis 0 of a float32 tensor (rows picked by int32 indices, batchDims 0): one block
 * copy per row. The cpu kernel converts every element's index, which made the linear probe's
 * mini-batch `tf.gather(features, idx)` ~40 % of `supcon linear` (14.6 of 34 s on the demo's
 * encoder). Other axes, dtypes, batch dims and out-of-range indices fall back to the cpu kernel
 * (which reports the bad index).
 */
import type { GatherV2Attrs, TensorInfo } from '@tensorflow/tfjs-core';
import { f32, type NativeKernel, output } from './util.js';

export const gatherKernel: NativeKernel = {
  kernelName: 'GatherV2',
  run: ({ inputs, backend, attrs }) => {
    const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims = 0 } = attrs as unknown as GatherV2Attrs;
    const rank = x.shape.length;
    const along = axis < 0 ? axis + rank : axis;
    if (along !== 0 || batchDims !== 0 || indices.dtype !== 'int32' || rank === 0) return null;
    const idx = backend.data.get(indices.dataId)?.values;
    if (!(idx instanceof Int32Array)) return null;
    const xv = f32(backend, x);
    if (!xv) return null;
    const rows = x.shape[0]!;
    for (let i = 0; i < idx.length; i++) if (idx[i]! < 0 || idx[i]! >= rows) return null;
    const width = rows === 0 ? 0 : xv.length / rows; // values per row
    const [out, make] = output(backend, [...indices.shape, ...x.shape.slice(1)]);
    for (let i = 0; i < idx.length; i++) {
      const from = idx[i]! * width;
      const to = i * width;
      if (width >= 256) out.set(xv.subarray(from, from + width), to);
      else for (let j = 0; j < width; j++) out[to + j] = xv[from + j]!; // a view per short row costs more than the copy
    }
    return make();
  },
};
