/**
 * Image corruptions for robustness evaluation, in the spirit of ImageNet-C / CIFAR-10-C (Hendrycks
 * & Dietterich, ICLR 2019), which the SupCon paper uses to compare robustness (mCE). Five severities
 * each; pure functions on uint8 NHWC batches (grey or RGB), seeded per image so the same
 * (seed, image index) always gives the same corrupted image, in Node and in the browser.
 *
 *   noise:    gaussian-noise (x + N(0, σ²)), shot-noise (Poisson(x·λ)/λ), impulse-noise (salt and pepper)
 *   blur:     gaussian-blur (σ in pixels, reflect padding, as torchvision)
 *   digital:  jpeg (baseline JPEG's lossy steps: YCbCr, 4:2:0 chroma, 8×8 DCT quantisation with the
 *             standard tables scaled by quality), pixelate (average pooling down, nearest up)
 *   photometric: contrast (towards the image mean), brightness (HSV value + c)
 *
 * The severity parameters follow the CIFAR-sized settings of that benchmark; the implementations are
 * ours, checked against PIL (JPEG) and PyTorch (pixelate, blur) in the tests.
 */
import { gaussianBlur, gaussianKernel } from '../augment/color.js';
import { hashSeed, Random } from '../augment/random.js';
import { check, InvalidArgumentError } from '../errors.js';

export const CORRUPTIONS = [
  'gaussian-noise',
  'shot-noise',
  'impulse-noise',
  'gaussian-blur',
  'contrast',
  'brightness',
  'pixelate',
  'jpeg',
] as const;
export type Corruption = (typeof CORRUPTIONS)[number];

/** The parameter of each corruption at severities 1..5. */
export const SEVERITY_PARAMETERS: Record<Corruption, readonly number[]> = {
  'gaussian-noise': [0.04, 0.06, 0.08, 0.09, 0.1], // σ on the [0, 1] scale
  'shot-noise': [500, 250, 100, 75, 50], // photons at full intensity λ
  'impulse-noise': [0.01, 0.02, 0.03, 0.05, 0.07], // fraction of values set to 0 or 1
  'gaussian-blur': [0.4, 0.6, 0.7, 0.8, 1], // σ in pixels
  contrast: [0.75, 0.5, 0.4, 0.3, 0.15], // kept fraction of the deviation from the mean
  brightness: [0.05, 0.1, 0.15, 0.2, 0.3], // added to HSV value
  pixelate: [0.95, 0.9, 0.85, 0.75, 0.65], // side of the coarse grid / side of the image
  jpeg: [80, 65, 58, 50, 40], // JPEG quality
};

export interface ImageBatchShape {
  count: number;
  height: number;
  width: number;
  channels: number;
}

/**
 * Corrupts a batch of uint8 NHWC images [count, height, width, channels] (channels 1 or 3) at
 * `severity` 1..5; returns a new array. `seed` and each image's index `firstIndex + k` seed the noise.
 */
export function corruptImages(
  images: Uint8Array,
  shape: ImageBatchShape,
  corruption: Corruption,
  severity: number,
  options: { seed?: number; firstIndex?: number } = {},
): Uint8Array {
  const { count, height, width, channels } = shape;
  check(CORRUPTIONS.includes(corruption), 'corruption', `one of ${CORRUPTIONS.join(', ')}`, corruption);
  check(
    Number.isInteger(severity) && severity >= 1 && severity <= 5,
    'severity',
    'an integer from 1 to 5',
    severity,
  );
  check(channels === 1 || channels === 3, 'channels', '1 (grey) or 3 (RGB)', channels);
  for (const [name, v] of [
    ['count', count],
    ['height', height],
    ['width', width],
  ] as const)
    check(Number.isInteger(v) && v > 0, name, 'an integer > 0', v);
  const size = height * width * channels;
  check(
    images.length === count * size,
    'images',
    `${count}×${height}×${width}×${channels} bytes`,
    `${images.length} bytes`,
  );
  const c = SEVERITY_PARAMETERS[corruption][severity - 1]!;
  const seed = options.seed ?? 0;
  const firstIndex = options.firstIndex ?? 0;
  const out = new Uint8Array(images.length);
  const img = new Float32Array(size);
  const scratch = new Float32Array(size);
  for (let k = 0; k < count; k++) {
    for (let j = 0; j < size; j++) img[j] = images[k * size + j]! / 255;
    const rng = new Random(hashSeed(seed, firstIndex + k, CORRUPTIONS.indexOf(corruption), severity));
    switch (corruption) {
      case 'gaussian-noise':
        for (let j = 0; j < size; j++) img[j]! += c * normal(rng);
        break;
      case 'shot-noise':
        for (let j = 0; j < size; j++) img[j] = poisson(img[j]! * c, rng) / c;
        break;
      case 'impulse-noise':
        for (let j = 0; j < size; j++) if (rng.next() < c) img[j] = rng.next() < 0.5 ? 0 : 1;
        break;
      case 'gaussian-blur': {
        const radius = Math.ceil(3 * c);
        gaussianBlur(img, 0, height, width, channels, gaussianKernel(2 * radius + 1, c), scratch);
        break;
      }
      case 'contrast': {
        let mean = 0;
        for (let j = 0; j < size; j++) mean += img[j]!;
        mean /= size;
        for (let j = 0; j < size; j++) img[j] = (img[j]! - mean) * c + mean;
        break;
      }
      case 'brightness':
        brighten(img, channels, c);
        break;
      case 'pixelate':
        pixelate(img, height, width, channels, c, scratch);
        break;
      case 'jpeg':
        jpegRoundTrip(img, height, width, channels, c);
        break;
    }
    for (let j = 0; j < size; j++) out[k * size + j] = Math.round(255 * Math.min(1, Math.max(0, img[j]!)));
  }
  return out;
}

/** Parses "gaussian-noise,jpeg" or "all" into corruption names, naming a bad one. */
export function parseCorruptions(list: string): Corruption[] {
  if (list === 'all') return [...CORRUPTIONS];
  const names = list.split(',').map((s) => s.trim());
  for (const n of names)
    if (!CORRUPTIONS.includes(n as Corruption))
      throw new InvalidArgumentError('corruptions', `"all" or a comma list of ${CORRUPTIONS.join(', ')}`, n);
  return names as Corruption[];
}

/** Standard normal draw (Box–Muller). */
function normal(rng: Random): number {
  const u = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** Poisson(λ) draw: multiplication method below 30, Hörmann's transformed rejection (PTRS) above. */
function poisson(lambda: number, rng: Random): number {
  if (lambda <= 0) return 0;
  if (lambda < 30) {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = rng.next();
    while (p > limit) {
      k++;
      p *= rng.next();
    }
    return k;
  }
  const slam = Math.sqrt(lambda);
  const loglam = Math.log(lambda);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (
      Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <=
      -lambda + k * loglam - logFactorial(k)
    )
      return k;
  }
}

function logFactorial(k: number): number {
  if (k < 2) return 0;
  if (k < 20) {
    let s = 0;
    for (let i = 2; i <= k; i++) s += Math.log(i);
    return s;
  }
  // Stirling's series, accurate to ~1e-10 for k ≥ 20.
  return (k + 0.5) * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * k) - 1 / (360 * k ** 3);
}

/** HSV value + c with hue and saturation kept: RGB scaled by min(1, V + c) / V (grey: x + c). */
function brighten(img: Float32Array, channels: number, c: number): void {
  if (channels === 1) {
    for (let j = 0; j < img.length; j++) img[j] = Math.min(1, img[j]! + c);
    return;
  }
  for (let j = 0; j < img.length; j += 3) {
    const v = Math.max(img[j]!, img[j + 1]!, img[j + 2]!);
    const target = Math.min(1, v + c);
    if (v === 0) {
      img[j] = img[j + 1] = img[j + 2] = target;
      continue;
    }
    const f = target / v;
    img[j]! *= f;
    img[j + 1]! *= f;
    img[j + 2]! *= f;
  }
}

/**
 * Adaptive average pooling down to round(side·c) (cell i averages rows floor(i·H/h) .. ceil((i+1)·H/h) − 1,
 * as PyTorch's `interpolate(mode='area')`), then centred nearest-neighbour back up ('nearest-exact').
 */
function pixelate(img: Float32Array, h: number, w: number, ch: number, c: number, small: Float32Array): void {
  const sh = Math.max(1, Math.round(h * c));
  const sw = Math.max(1, Math.round(w * c));
  for (let y = 0; y < sh; y++) {
    const y0 = Math.floor((y * h) / sh);
    const y1 = Math.ceil(((y + 1) * h) / sh);
    for (let x = 0; x < sw; x++) {
      const x0 = Math.floor((x * w) / sw);
      const x1 = Math.ceil(((x + 1) * w) / sw);
      for (let k = 0; k < ch; k++) {
        let acc = 0;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) acc += img[(yy * w + xx) * ch + k]!;
        small[(y * sw + x) * ch + k] = acc / ((y1 - y0) * (x1 - x0));
      }
    }
  }
  for (let y = 0; y < h; y++) {
    const ys = Math.min(sh - 1, Math.floor((y + 0.5) * (sh / h)));
    for (let x = 0; x < w; x++) {
      const xs = Math.min(sw - 1, Math.floor((x + 0.5) * (sw / w)));
      for (let k = 0; k < ch; k++) img[(y * w + x) * ch + k] = small[(ys * sw + xs) * ch + k]!;
    }
  }
}

// --- JPEG: the lossy part of a baseline encoder and its decoder (entropy coding is lossless) ---

/** The example quantisation tables of the JPEG standard (ITU-T T.81, Annex K), row-major. */
const LUMA_TABLE = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
  29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103,
  121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_TABLE = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** The table scaled to `quality` the way the IJG library does (quality 50 = the table itself). */
export function jpegQuantTable(base: readonly number[], quality: number): Float32Array {
  check(
    Number.isInteger(quality) && quality >= 1 && quality <= 100,
    'quality',
    'an integer from 1 to 100',
    quality,
  );
  const scale = quality < 50 ? Math.floor(5000 / quality) : 200 - 2 * quality;
  return Float32Array.from(base, (q) => Math.min(255, Math.max(1, Math.floor((q * scale + 50) / 100))));
}

/** cos((2x + 1)uπ / 16) · C(u) / 2 for the 8-point DCT-II: DCT[u·8 + x]. */
const DCT = (() => {
  const m = new Float64Array(64);
  for (let u = 0; u < 8; u++)
    for (let x = 0; x < 8; x++)
      m[u * 8 + x] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  return m;
})();

/** Quantises one plane [h, w] (values 0..255) in 8×8 DCT blocks with `table`, in place. */
function quantisePlane(plane: Float64Array, h: number, w: number, table: Float32Array): void {
  const block = new Float64Array(64);
  const tmp = new Float64Array(64);
  for (let by = 0; by < h; by += 8) {
    for (let bx = 0; bx < w; bx += 8) {
      // Level shift; blocks past the edge repeat the last row/column (as encoders pad).
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++)
          block[y * 8 + x] = plane[Math.min(h - 1, by + y) * w + Math.min(w - 1, bx + x)]! - 128;
      transform(block, tmp, false);
      for (let i = 0; i < 64; i++) block[i] = Math.round(block[i]! / table[i]!) * table[i]!;
      transform(block, tmp, true);
      for (let y = 0; y < 8 && by + y < h; y++)
        for (let x = 0; x < 8 && bx + x < w; x++) plane[(by + y) * w + bx + x] = block[y * 8 + x]! + 128;
    }
  }
}

/** 2-D DCT-II (or its inverse) of an 8×8 block, in place, as two 1-D passes. */
function transform(b: Float64Array, tmp: Float64Array, inverse: boolean): void {
  for (let pass = 0; pass < 2; pass++) {
    const src = pass === 0 ? b : tmp;
    const dst = pass === 0 ? tmp : b;
    for (let r = 0; r < 8; r++) {
      for (let u = 0; u < 8; u++) {
        let acc = 0;
        for (let x = 0; x < 8; x++) acc += (inverse ? DCT[x * 8 + u]! : DCT[u * 8 + x]!) * src[r * 8 + x]!;
        dst[u * 8 + r] = acc; // transposed write: the second pass works on columns
      }
    }
  }
}

/** Compresses and decompresses one image [h, w, ch] (values 0..1) at JPEG `quality`, in place. */
export function jpegRoundTrip(img: Float32Array, h: number, w: number, ch: number, quality: number): void {
  const luma = jpegQuantTable(LUMA_TABLE, quality);
  const n = h * w;
  if (ch === 1) {
    const y = Float64Array.from(img, (v) => Math.round(v * 255));
    quantisePlane(y, h, w, luma);
    for (let i = 0; i < n; i++) img[i] = Math.min(255, Math.max(0, Math.round(y[i]!))) / 255;
    return;
  }
  const chroma = jpegQuantTable(CHROMA_TABLE, quality);
  const Y = new Float64Array(n);
  const cb = new Float64Array(n);
  const cr = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.round(img[3 * i]! * 255);
    const g = Math.round(img[3 * i + 1]! * 255);
    const b = Math.round(img[3 * i + 2]! * 255);
    Y[i] = 0.299 * r + 0.587 * g + 0.114 * b; // JFIF YCbCr
    cb[i] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
    cr[i] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
  }
  // 4:2:0: chroma averaged over 2×2 pixels and coded at half resolution.
  const hh = Math.ceil(h / 2);
  const hw = Math.ceil(w / 2);
  const halves = [cb, cr].map((full) => {
    const half = new Float64Array(hh * hw);
    for (let y = 0; y < hh; y++)
      for (let x = 0; x < hw; x++) {
        let acc = 0;
        let cnt = 0;
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) {
            const yy = 2 * y + dy;
            const xx = 2 * x + dx;
            if (yy < h && xx < w) {
              acc += full[yy * w + xx]!;
              cnt++;
            }
          }
        half[y * hw + x] = acc / cnt;
      }
    quantisePlane(half, hh, hw, chroma);
    return half;
  });
  quantisePlane(Y, h, w, luma);
  const [cbH, crH] = halves as [Float64Array, Float64Array];
  // Chroma back to full resolution with the triangular ("fancy") filter decoders use: each pixel
  // weighs its own chroma sample 9, the nearer horizontal and vertical neighbours 3, the diagonal 1.
  const upsample = (half: Float64Array, y: number, x: number) => {
    const cy = y >> 1;
    const cx = x >> 1;
    const ny = Math.min(hh - 1, Math.max(0, y % 2 === 0 ? cy - 1 : cy + 1));
    const nx = Math.min(hw - 1, Math.max(0, x % 2 === 0 ? cx - 1 : cx + 1));
    return (
      (9 * half[cy * hw + cx]! + 3 * half[ny * hw + cx]! + 3 * half[cy * hw + nx]! + half[ny * hw + nx]!) / 16
    );
  };
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const yy = Y[i]!;
      const u = upsample(cbH, y, x) - 128;
      const v = upsample(crH, y, x) - 128;
      const rgb = [yy + 1.402 * v, yy - 0.344136 * u - 0.714136 * v, yy + 1.772 * u];
      for (let k = 0; k < 3; k++) img[3 * i + k] = Math.min(255, Math.max(0, Math.round(rgb[k]!))) / 255;
    }
}
