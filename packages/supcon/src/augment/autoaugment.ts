/**
 * RandAugment (Cubuk et al. 2020) and AutoAugment's CIFAR-10 policy (Cubuk et al. 2019), with
 * torchvision's operation set and magnitude ranges. Images are float HWC in [0, 1]; operations
 * defined on 8-bit values (posterize, solarize, equalize) quantise to 0..255 first.
 */
import { adjustBrightness, adjustContrast, adjustSaturation } from './color.js';
import { affineNearest, inverseAffineMatrix } from './geometry.js';
import { CIFAR10_POLICY } from './policies.js';
import type { Random } from './random.js';

export type AugmentOpName =
  | 'Identity'
  | 'ShearX'
  | 'ShearY'
  | 'TranslateX'
  | 'TranslateY'
  | 'Rotate'
  | 'Brightness'
  | 'Color'
  | 'Contrast'
  | 'Sharpness'
  | 'Posterize'
  | 'Solarize'
  | 'AutoContrast'
  | 'Equalize'
  | 'Invert';

/** Clamp to [0, 1]; branches, because V8 runs them faster than Math.min/Math.max here (A/B-timed). */
function clamp01(v: number): number {
  if (v < 0) return 0;
  if (v > 1) return 1;
  return v;
}
const linspace = (a: number, b: number, n: number, i: number) => (n === 1 ? a : a + ((b - a) * i) / (n - 1));

/** Magnitude of `op` at bin `i` of `bins`, and whether its sign is random (torchvision's table). */
export function opMagnitude(
  op: AugmentOpName,
  i: number,
  bins: number,
  h: number,
  w: number,
): { value: number; signed: boolean } {
  switch (op) {
    case 'ShearX':
    case 'ShearY':
      return { value: linspace(0, 0.3, bins, i), signed: true };
    case 'TranslateX':
      return { value: linspace(0, (150 / 331) * w, bins, i), signed: true };
    case 'TranslateY':
      return { value: linspace(0, (150 / 331) * h, bins, i), signed: true };
    case 'Rotate':
      return { value: linspace(0, 30, bins, i), signed: true };
    case 'Brightness':
    case 'Color':
    case 'Contrast':
    case 'Sharpness':
      return { value: linspace(0, 0.9, bins, i), signed: true };
    case 'Posterize':
      // torch's round() is half-to-even; the values hit no tie for the bin counts used here.
      return { value: 8 - Math.round(i / ((bins - 1) / 4)), signed: false };
    case 'Solarize':
      return { value: linspace(255, 0, bins, i), signed: false };
    default:
      return { value: 0, signed: false };
  }
}

/** Uint8 value of a float pixel. */
const q8 = (v: number) => Math.round(clamp01(v) * 255);

export function posterize(img: Float32Array, offset: number, n: number, bits: number): void {
  const mask = (0xff << (8 - bits)) & 0xff;
  for (let i = offset; i < offset + n; i++) img[i] = (q8(img[i]!) & mask) / 255;
}

/** Inverts every value at or above `threshold` (on the 0..255 scale). */
export function solarize(img: Float32Array, offset: number, n: number, threshold: number): void {
  for (let i = offset; i < offset + n; i++) if (img[i]! * 255 + 1e-3 >= threshold) img[i] = 1 - img[i]!;
}

export function invertImage(img: Float32Array, offset: number, n: number): void {
  for (let i = offset; i < offset + n; i++) img[i] = 1 - img[i]!;
}

/** Stretches each channel to the full range. */
export function autoContrast(img: Float32Array, offset: number, n: number, c: number): void {
  for (let ch = 0; ch < c; ch++) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = offset + ch; i < offset + n; i += c) {
      lo = Math.min(lo, img[i]!);
      hi = Math.max(hi, img[i]!);
    }
    if (hi === lo) continue;
    const scale = 1 / (hi - lo);
    for (let i = offset + ch; i < offset + n; i += c) img[i] = clamp01((img[i]! - lo) * scale);
  }
}

/** Histogram equalisation of each channel on 8-bit values (PIL's and torchvision's lookup table). */
export function equalize(img: Float32Array, offset: number, n: number, c: number): void {
  const hist = new Int32Array(256);
  const lut = new Float32Array(256);
  for (let ch = 0; ch < c; ch++) {
    hist.fill(0);
    for (let i = offset + ch; i < offset + n; i += c) hist[q8(img[i]!)]!++;
    let last = 255;
    while (last > 0 && hist[last] === 0) last--;
    let total = 0;
    for (let v = 0; v < last; v++) total += hist[v]!;
    const step = Math.floor(total / 255);
    if (step === 0) continue;
    let cum = 0;
    for (let v = 0; v < 256; v++) {
      lut[v] = Math.min(255, Math.floor((cum + Math.floor(step / 2)) / step)) / 255;
      cum += hist[v]!;
    }
    for (let i = offset + ch; i < offset + n; i += c) img[i] = lut[q8(img[i]!)]!;
  }
}

/** Blends with a 3×3 smoothed copy (border pixels kept), as PIL's ImageEnhance.Sharpness. */
export function adjustSharpness(
  img: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
  factor: number,
  scratch: Float32Array,
): void {
  if (h <= 2 || w <= 2) return;
  const n = h * w * c;
  scratch.set(img.subarray(offset, offset + n));
  const row = w * c;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let ch = 0; ch < c; ch++) {
        const p = y * row + x * c + ch;
        let sum = 4 * scratch[p]!;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) sum += scratch[p + dy * row + dx * c]!;
        const blurred = sum / 13;
        img[offset + p] = clamp01(blurred + factor * (scratch[p]! - blurred));
      }
    }
  }
}

/** Applies one operation with a signed magnitude, as torchvision's `_apply_op`. */
export function applyOp(
  op: AugmentOpName,
  magnitude: number,
  img: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
  scratch: Float32Array,
): void {
  const n = h * w * c;
  const deg = (v: number) => (v * 180) / Math.PI;
  // Shears pivot on the top-left corner: centre (0, 0) in pixels is (−w/2, −h/2) from the middle.
  const corner: [number, number] = [-w / 2, -h / 2];
  switch (op) {
    case 'ShearX':
      affineNearest(
        img,
        offset,
        h,
        w,
        c,
        inverseAffineMatrix(corner, 0, [0, 0], 1, [deg(Math.atan(magnitude)), 0]),
        scratch,
      );
      break;
    case 'ShearY':
      affineNearest(
        img,
        offset,
        h,
        w,
        c,
        inverseAffineMatrix(corner, 0, [0, 0], 1, [0, deg(Math.atan(magnitude))]),
        scratch,
      );
      break;
    case 'TranslateX':
      affineNearest(
        img,
        offset,
        h,
        w,
        c,
        inverseAffineMatrix([0, 0], 0, [Math.trunc(magnitude), 0], 1, [0, 0]),
        scratch,
      );
      break;
    case 'TranslateY':
      affineNearest(
        img,
        offset,
        h,
        w,
        c,
        inverseAffineMatrix([0, 0], 0, [0, Math.trunc(magnitude)], 1, [0, 0]),
        scratch,
      );
      break;
    case 'Rotate':
      affineNearest(
        img,
        offset,
        h,
        w,
        c,
        inverseAffineMatrix([0, 0], -magnitude, [0, 0], 1, [0, 0]),
        scratch,
      );
      break;
    case 'Brightness':
      adjustBrightness(img, offset, n, 1 + magnitude);
      break;
    case 'Color':
      adjustSaturation(img, offset, n, c, 1 + magnitude);
      break;
    case 'Contrast':
      adjustContrast(img, offset, n, c, 1 + magnitude);
      break;
    case 'Sharpness':
      adjustSharpness(img, offset, h, w, c, 1 + magnitude, scratch);
      break;
    case 'Posterize':
      posterize(img, offset, n, Math.trunc(magnitude));
      break;
    case 'Solarize':
      solarize(img, offset, n, magnitude);
      break;
    case 'AutoContrast':
      autoContrast(img, offset, n, c);
      break;
    case 'Equalize':
      equalize(img, offset, n, c);
      break;
    case 'Invert':
      invertImage(img, offset, n);
      break;
    case 'Identity':
      return;
  }
}

const RAND_AUGMENT_OPS: AugmentOpName[] = [
  'Identity',
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Rotate',
  'Brightness',
  'Color',
  'Contrast',
  'Sharpness',
  'Posterize',
  'Solarize',
  'AutoContrast',
  'Equalize',
];

export interface RandAugmentOptions {
  /** Operations applied in a row (torchvision default 2). */
  numOps: number;
  /** Bin index of the magnitude (default 9 of 31). */
  magnitude: number;
  numMagnitudeBins: number;
}

/** RandAugment: `numOps` operations drawn uniformly, each at the fixed magnitude with a random sign. */
export function randAugment(
  rng: Random,
  o: RandAugmentOptions,
  img: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
  scratch: Float32Array,
): void {
  for (let k = 0; k < o.numOps; k++) {
    const op = RAND_AUGMENT_OPS[rng.int(0, RAND_AUGMENT_OPS.length)]!;
    const { value, signed } = opMagnitude(op, o.magnitude, o.numMagnitudeBins, h, w);
    applyOp(op, signed && rng.chance(0.5) ? -value : value, img, offset, h, w, c, scratch);
  }
}

/** AutoAugment (CIFAR-10 policy): one sub-policy drawn uniformly; each of its two steps applied with its probability. */
export function autoAugment(
  rng: Random,
  img: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
  scratch: Float32Array,
): void {
  const policy = CIFAR10_POLICY[rng.int(0, CIFAR10_POLICY.length)]!;
  for (const [op, p, bin] of policy) {
    const apply = rng.next() <= p;
    const negative = rng.chance(0.5);
    if (!apply) continue;
    const { value, signed } = bin === null ? { value: 0, signed: false } : opMagnitude(op, bin, 10, h, w);
    applyOp(op, signed && negative ? -value : value, img, offset, h, w, c, scratch);
  }
}
