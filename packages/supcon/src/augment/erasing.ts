/**
 * Random erasing (Zhong et al. 2020, "Random Erasing Data Augmentation", https://arxiv.org/abs/1708.04896),
 * defined as torchvision's `RandomErasing`: with probability p, one rectangle of the image is
 * overwritten. Its area is a fraction of the image drawn uniformly from `scale`, its aspect ratio
 * h / w drawn log-uniformly from `ratio`:
 *
 *   h = round(√(area · r)),  w = round(√(area / r)),  kept only if h < H and w < W (strictly),
 *   top ∈ [0, H − h], left ∈ [0, W − w] uniform integers,
 *
 * up to 10 attempts; when none fits, the image is left as it is. The fill is 0, a constant per
 * channel, or per-pixel standard-normal values (`'random'`). It runs on normalised images (the
 * end of torchvision's usual pipelines), so a fill of 0 is the dataset's mean.
 */
import { check } from '../errors.js';
import type { Random } from './random.js';

/** What fills the box: one number for every channel, one per channel, or N(0, 1) per value. */
export type EraseValue = number | number[] | 'random';

/** torchvision's RandomErasing defaults. */
export const ERASING_DEFAULTS = {
  p: 0.5,
  scale: [0.02, 0.33] as [number, number],
  ratio: [0.3, 3.3] as [number, number],
  value: 0 as EraseValue,
};

/** A box to erase: top row, left column, height, width (torchvision's i, j, h, w). */
export type EraseBox = [number, number, number, number];

/**
 * torchvision's RandomErasing.get_params: the box of one erasure on an h × w image, or null when
 * 10 attempts give no box strictly inside the image (the image is then left unchanged).
 */
export function sampleErase(
  rng: Random,
  h: number,
  w: number,
  scale: [number, number],
  ratio: [number, number],
): EraseBox | null {
  const area = h * w;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi)); // h / w
    const eh = Math.round(Math.sqrt(target * aspect));
    const ew = Math.round(Math.sqrt(target / aspect));
    if (eh < h && ew < w) return [rng.int(0, h - eh + 1), rng.int(0, w - ew + 1), eh, ew];
  }
  return null;
}

/**
 * Overwrites rows [top, top + eh) × columns [left, left + ew) of one HWC image (`[h, w, c]` at
 * `offset`, row width `w`) with `fill`: `c` values (one per channel) or `eh · ew · c` values
 * (per pixel, HWC order), as torchvision's `F.erase(img, top, left, eh, ew, v)`.
 */
export function erase(
  img: Float32Array,
  offset: number,
  w: number,
  c: number,
  [top, left, eh, ew]: EraseBox,
  fill: ArrayLike<number>,
): void {
  check(
    fill.length === c || fill.length === eh * ew * c,
    'fill',
    `${c} values (one per channel) or ${eh * ew * c} (${eh}×${ew}×${c}, per pixel)`,
    `${fill.length} values`,
  );
  const perPixel = fill.length !== c;
  let f = 0;
  for (let y = top; y < top + eh; y++) {
    const row = offset + (y * w + left) * c; // pixel (y, left), channel 0
    for (let k = 0; k < ew * c; k++) img[row + k] = perPixel ? fill[f++]! : fill[k % c]!;
  }
}

/**
 * The whole step on one image: with probability p, a box from `sampleErase` filled as `value` says.
 * Returns the box erased, or null (not drawn, or no box fitted).
 */
export function randomErase(
  rng: Random,
  options: { p: number; scale: [number, number]; ratio: [number, number]; value: EraseValue },
  img: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
): EraseBox | null {
  if (!rng.chance(options.p)) return null;
  const box = sampleErase(rng, h, w, options.scale, options.ratio);
  if (box === null) return null;
  const { value } = options;
  let fill: ArrayLike<number>;
  if (value === 'random') {
    const values = new Float32Array(box[2] * box[3] * c); // [eh, ew, c]
    for (let i = 0; i < values.length; i++) values[i] = rng.normal();
    fill = values;
  } else fill = typeof value === 'number' ? new Array<number>(c).fill(value) : value;
  erase(img, offset, w, c, box, fill);
  return box;
}
