/**
 * SplitV of a float32 tensor along any axis: one block copy per (outer index, piece). The cpu
 * kernel slices each piece, and a slice along an inner axis converts every element's index; in
 * the ViT step that is the gradient of the class token's Concat (pieces [B, 1, D] and [B, N, D]
 * along axis 1), the slowest kernel of the profile before this one.
 */
import { backend_util, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { f32, type NativeKernel, output } from './util.js';

export const splitVKernel: NativeKernel = {
  kernelName: 'SplitV',
  run: ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: TensorInfo };
    const xv = f32(backend, x);
    if (!xv || x.shape.length === 0) return null;
    const { numOrSizeSplits, axis } = attrs as { numOrSizeSplits: number | number[]; axis: number };
    const along = util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, along);
    const outer = x.shape.slice(0, along).reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(along + 1).reduce((a, b) => a * b, 1);
    const rowIn = x.shape[along]! * inner; // values per outer index in x
    let offset = 0; // where this piece starts within an outer row of x
    return sizes.map((s) => {
      const shape = [...x.shape];
      shape[along] = s;
      const run = s * inner; // values per outer index in this piece
      const [out, make] = output(backend, shape);
      for (let o = 0; o < outer; o++) {
        const from = o * rowIn + offset;
        if (run >= 256) out.set(xv.subarray(from, from + run), o * run);
        else for (let j = 0; j < run; j++) out[o * run + j] = xv[from + j]!;
      }
      offset += run;
      return make();
    });
  },
};
