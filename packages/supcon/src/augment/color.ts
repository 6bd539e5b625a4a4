/**
 * Colour operations on one float HWC image in [0, 1], in place. Each clamps to [0, 1] like
 * torchvision's tensor functions; on one channel, saturation, hue and grayscale do nothing
 * (as torchvision, which follows PIL).
 */

/** torchvision's luma weights (ITU-R 601-2 with its 0.2989). */
const R = 0.2989;
const G = 0.587;
const B = 0.114;

/** Clamp to [0, 1]; branches, because V8 runs them faster than Math.min/Math.max here (A/B-timed). */
function clamp01(v: number): number {
  if (v < 0) return 0;
  if (v > 1) return 1;
  return v;
}

export function adjustBrightness(img: Float32Array, offset: number, n: number, factor: number): void {
  for (let i = offset; i < offset + n; i++) img[i] = clamp01(img[i]! * factor);
}

/** Blends with the mean grey level of the whole image. */
export function adjustContrast(
  img: Float32Array,
  offset: number,
  n: number,
  c: number,
  factor: number,
): void {
  let sum = 0;
  if (c === 3)
    for (let i = offset; i < offset + n; i += 3) sum += R * img[i]! + G * img[i + 1]! + B * img[i + 2]!;
  else for (let i = offset; i < offset + n; i++) sum += img[i]!;
  const mean = sum / (n / c);
  const add = (1 - factor) * mean;
  for (let i = offset; i < offset + n; i++) img[i] = clamp01(factor * img[i]! + add);
}

/** Blends each pixel with its own grey level. */
export function adjustSaturation(
  img: Float32Array,
  offset: number,
  n: number,
  c: number,
  factor: number,
): void {
  if (c !== 3) return;
  const keep = 1 - factor;
  for (let i = offset; i < offset + n; i += 3) {
    const g = keep * (R * img[i]! + G * img[i + 1]! + B * img[i + 2]!);
    img[i] = clamp01(factor * img[i]! + g);
    img[i + 1] = clamp01(factor * img[i + 1]! + g);
    img[i + 2] = clamp01(factor * img[i + 2]! + g);
  }
}

/**
 * Rotates the hue by `factor` of a full turn (factor in [-0.5, 0.5]) through HSV, as torchvision's
 * _rgb2hsv/_hsv2rgb. With v = max and s = (max − min)/max, the HSV → RGB terms simplify to
 * p = min, q = max − (max − min)·f, t = min + (max − min)·f, so one division per pixel remains.
 */
export function adjustHue(img: Float32Array, offset: number, n: number, c: number, factor: number): void {
  if (c !== 3) return;
  const shift = factor * 6;
  for (let i = offset; i < offset + n; i += 3) {
    const r = img[i]!;
    const g = img[i + 1]!;
    const b = img[i + 2]!;
    let max = r;
    if (g > max) max = g;
    if (b > max) max = b;
    let min = r;
    if (g < min) min = g;
    if (b < min) min = b;
    const cr = max - min;
    if (cr === 0) continue; // grey: hue undefined, unchanged
    // Hue in sixths of a turn, [0, 6).
    let h = max === r ? (g - b) / cr : max === g ? 2 + (b - r) / cr : 4 + (r - g) / cr;
    h += shift;
    while (h < 0) h += 6;
    while (h >= 6) h -= 6;
    const k = Math.floor(h);
    const f = h - k;
    const q = max - cr * f;
    const t = min + cr * f;
    switch (k) {
      case 0:
        img[i] = max;
        img[i + 1] = t;
        img[i + 2] = min;
        break;
      case 1:
        img[i] = q;
        img[i + 1] = max;
        img[i + 2] = min;
        break;
      case 2:
        img[i] = min;
        img[i + 1] = max;
        img[i + 2] = t;
        break;
      case 3:
        img[i] = min;
        img[i + 1] = q;
        img[i + 2] = max;
        break;
      case 4:
        img[i] = t;
        img[i + 1] = min;
        img[i + 2] = max;
        break;
      default:
        img[i] = max;
        img[i + 1] = min;
        img[i + 2] = q;
    }
  }
}

/** Replaces every channel with the grey level (keeps the channel count). */
export function toGrayscale(img: Float32Array, offset: number, n: number, c: number): void {
  if (c !== 3) return;
  for (let i = offset; i < offset + n; i += 3) {
    const g = R * img[i]! + G * img[i + 1]! + B * img[i + 2]!;
    img[i] = g;
    img[i + 1] = g;
    img[i + 2] = g;
  }
}

/** (x − mean[c]) / std[c] per channel. */
export function normalizeImage(
  img: Float32Array,
  offset: number,
  n: number,
  mean: ArrayLike<number>,
  std: ArrayLike<number>,
): void {
  const c = mean.length;
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch]!;
    const inv = 1 / std[ch]!;
    for (let i = offset + ch; i < offset + n; i += c) img[i] = (img[i]! - m) * inv;
  }
}

/** 1-D Gaussian kernel of odd `size`, as torchvision (sampled at integer offsets, normalised). */
export function gaussianKernel(size: number, sigma: number): Float32Array {
  const k = new Float32Array(size);
  const half = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = (i - half) / sigma;
    k[i] = Math.exp(-0.5 * x * x);
    sum += k[i]!;
  }
  for (let i = 0; i < size; i++) k[i]! /= sum;
  return k;
}

/** Reflect (mirror without repeating the edge) index into 0..n-1. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  let j = i;
  while (j < 0 || j >= n) j = j < 0 ? -j : 2 * n - 2 - j;
  return j;
}

/** Separable Gaussian blur with reflect padding; `scratch` holds at least h·w·c floats. */
export function gaussianBlur(
  img: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
  kernel: Float32Array,
  scratch: Float32Array,
): void {
  const half = (kernel.length - 1) / 2;
  const rowStride = w * c;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < kernel.length; k++)
          acc += kernel[k]! * img[offset + y * rowStride + reflect(x + k - half, w) * c + ch]!;
        scratch[y * rowStride + x * c + ch] = acc;
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < kernel.length; k++)
          acc += kernel[k]! * scratch[reflect(y + k - half, h) * rowStride + x * c + ch]!;
        img[offset + y * rowStride + x * c + ch] = acc;
      }
    }
  }
}
