/**
 * Batched, seeded augmentation pipelines. A pipeline is plain data (a list of steps), so it can be
 * sent to worker threads and written into run configs; `Augmenter` compiles it once and then
 * turns a batch of uint8 or float images into V views per sample:
 *
 *   augmenter.apply(images, count, { views: 2, seed, epoch, indices }) // Float32Array [count, views, H, W, C]
 *
 * Sample-major layout: reshape to [count·views, H, W, C] for the encoder and its output to
 * [count, views, dim] for supConLoss. Every view draws from its own stream keyed by
 * (seed, epoch, sample index, view), so results do not depend on batching or threads.
 */
import { check } from '../errors.js';
import { autoAugment, randAugment } from './autoaugment.js';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  gaussianBlur,
  gaussianKernel,
  normalizeImage,
  toGrayscale,
} from './color.js';
import { ERASING_DEFAULTS, type EraseValue, randomErase } from './erasing.js';
import { CropTables, horizontalFlip, type Pixels, resizedCrop } from './geometry.js';
import { hashSeed, Random } from './random.js';
import { validateSteps } from './validate.js';

export type AugmentStep =
  /** Random area fraction in `scale` and aspect ratio (log-uniform) in `ratio`, resized to `size` (torchvision RandomResizedCrop). */
  | { op: 'randomResizedCrop'; size: [number, number]; scale?: [number, number]; ratio?: [number, number] }
  /** Deterministic bilinear resize of the whole image. */
  | { op: 'resize'; size: [number, number] }
  | { op: 'horizontalFlip'; p?: number }
  /** Factors drawn uniformly from [max(0, 1 − b), 1 + b] etc.; hue shift in [−hue, hue]; the four applied in random order; the whole step with probability p. */
  | {
      op: 'colorJitter';
      brightness?: number;
      contrast?: number;
      saturation?: number;
      hue?: number;
      p?: number;
    }
  | { op: 'randomGrayscale'; p?: number }
  /** Kernel of odd `kernelSize`; sigma uniform in `sigma`; with probability p. */
  | { op: 'gaussianBlur'; kernelSize: number; sigma?: [number, number]; p?: number }
  | { op: 'randAugment'; numOps?: number; magnitude?: number; numMagnitudeBins?: number }
  | { op: 'autoAugment'; policy?: 'cifar10' }
  | { op: 'normalize'; mean: number[]; std: number[] }
  /**
   * With probability p [0.5], one box of area fraction in `scale` [0.02, 0.33] and aspect h / w
   * log-uniform in `ratio` [0.3, 3.3] filled with `value` [0] (torchvision RandomErasing; erasing.ts).
   */
  | {
      op: 'randomErasing';
      p?: number;
      scale?: [number, number];
      ratio?: [number, number];
      value?: EraseValue;
    };

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

export interface ApplyOptions {
  /** Independent views per sample (default 1). */
  views?: number;
  seed?: number;
  epoch?: number;
  /** Global sample ids used for seeding (default 0..count-1); pass dataset indices for reproducible epochs. */
  indices?: ArrayLike<number>;
  /** Where to write; a new array if absent. */
  out?: Float32Array;
}

const DEFAULTS = {
  scale: [0.08, 1] as [number, number],
  ratio: [3 / 4, 4 / 3] as [number, number],
};

/** torchvision's RandomResizedCrop.get_params: 10 tries, then a centre crop clamped to the ratio range. */
export function sampleCrop(
  rng: Random,
  h: number,
  w: number,
  scale: [number, number],
  ratio: [number, number],
): [number, number, number, number] {
  const area = h * w;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h)
      return [rng.int(0, h - ch + 1), rng.int(0, w - cw + 1), ch, cw];
  }
  const inRatio = w / h;
  let cw = w;
  let ch = h;
  if (inRatio < ratio[0]) ch = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) cw = Math.round(h * ratio[1]);
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

export class Augmenter {
  readonly input: ImageShape;
  readonly output: ImageShape;
  private readonly steps: AugmentStep[];
  private readonly tables = new CropTables();
  private readonly scratch: Float32Array;

  constructor(steps: AugmentStep[], input: ImageShape) {
    this.output = validateSteps(steps, input);
    this.input = { ...input };
    this.steps = steps.map((s) => ({ ...s }));
    this.scratch = new Float32Array(this.output.height * this.output.width * this.output.channels);
  }

  /** Floats per view. */
  get viewSize(): number {
    return this.output.height * this.output.width * this.output.channels;
  }

  /** Augments `count` NHWC images into `[count, views, H, W, C]` floats. */
  apply(images: Pixels, count: number, options: ApplyOptions = {}): Float32Array {
    const { views = 1, seed = 0, epoch = 0, indices } = options;
    const inSize = this.input.height * this.input.width * this.input.channels;
    check(Number.isInteger(views) && views >= 1, 'views', 'an integer >= 1', views);
    check(
      images.length >= count * inSize,
      'images',
      `at least ${count} images of ${this.input.height}×${this.input.width}×${this.input.channels}`,
      `${images.length} values`,
    );
    check(
      indices === undefined || indices.length >= count,
      'indices',
      `${count} sample indices`,
      indices?.length,
    );
    const size = this.viewSize;
    const out = options.out ?? new Float32Array(count * views * size);
    check(out.length >= count * views * size, 'out', `room for ${count * views * size} floats`, out.length);
    for (let i = 0; i < count; i++) {
      const id = indices ? indices[i]! : i;
      for (let v = 0; v < views; v++) {
        this.applyOne(
          images,
          i * inSize,
          new Random(hashSeed(seed, epoch, id, v)),
          out,
          (i * views + v) * size,
        );
      }
    }
    return out;
  }

  /**
   * Augments the samples `indices` of a whole dataset `images` (NHWC) into `[indices.length, views, H, W, C]`,
   * seeding each by its dataset index; what a loader calls with a shuffled batch of indices.
   */
  applyAt(
    images: Pixels,
    indices: ArrayLike<number>,
    options: Omit<ApplyOptions, 'indices'> = {},
  ): Float32Array {
    const { views = 1, seed = 0, epoch = 0 } = options;
    const inSize = this.input.height * this.input.width * this.input.channels;
    const total = Math.floor(images.length / inSize);
    check(Number.isInteger(views) && views >= 1, 'views', 'an integer >= 1', views);
    const size = this.viewSize;
    const count = indices.length;
    const out = options.out ?? new Float32Array(count * views * size);
    check(out.length >= count * views * size, 'out', `room for ${count * views * size} floats`, out.length);
    for (let i = 0; i < count; i++) {
      const id = indices[i]!;
      check(
        Number.isInteger(id) && id >= 0 && id < total,
        'indices',
        `sample indices in 0..${total - 1}`,
        id,
      );
      for (let v = 0; v < views; v++) {
        this.applyOne(
          images,
          id * inSize,
          new Random(hashSeed(seed, epoch, id, v)),
          out,
          (i * views + v) * size,
        );
      }
    }
    return out;
  }

  /** Augments one image starting at `srcOffset` into `out` at `outOffset`. */
  applyOne(src: Pixels, srcOffset: number, rng: Random, out: Float32Array, outOffset: number): void {
    const { height: ih, width: iw, channels: c } = this.input;
    const { height: h, width: w } = this.output;
    const n = h * w * c;
    let k = 0;
    const first = this.steps[0];
    if (first?.op === 'randomResizedCrop') {
      const [top, left, ch, cw] = sampleCrop(
        rng,
        ih,
        iw,
        first.scale ?? DEFAULTS.scale,
        first.ratio ?? DEFAULTS.ratio,
      );
      resizedCrop(src, srcOffset, iw, c, top, left, ch, cw, h, w, out, outOffset, this.tables);
      k = 1;
    } else if (first?.op === 'resize') {
      resizedCrop(src, srcOffset, iw, c, 0, 0, ih, iw, h, w, out, outOffset, this.tables);
      k = 1;
    } else {
      resizedCrop(src, srcOffset, iw, c, 0, 0, ih, iw, ih, iw, out, outOffset, this.tables);
    }
    for (; k < this.steps.length; k++) {
      const s = this.steps[k]!;
      switch (s.op) {
        case 'horizontalFlip':
          if (rng.chance(s.p ?? 0.5)) horizontalFlip(out, outOffset, h, w, c);
          break;
        case 'colorJitter':
          if (rng.chance(s.p ?? 1)) this.jitter(s, rng, out, outOffset, n, c);
          break;
        case 'randomGrayscale':
          if (rng.chance(s.p ?? 0.1)) toGrayscale(out, outOffset, n, c);
          break;
        case 'gaussianBlur': {
          if (!rng.chance(s.p ?? 1)) break;
          const [lo, hi] = s.sigma ?? [0.1, 2];
          gaussianBlur(
            out,
            outOffset,
            h,
            w,
            c,
            gaussianKernel(s.kernelSize, rng.uniform(lo, hi)),
            this.scratch,
          );
          break;
        }
        case 'randAugment':
          randAugment(
            rng,
            {
              numOps: s.numOps ?? 2,
              magnitude: s.magnitude ?? 9,
              numMagnitudeBins: s.numMagnitudeBins ?? 31,
            },
            out,
            outOffset,
            h,
            w,
            c,
            this.scratch,
          );
          break;
        case 'autoAugment':
          autoAugment(rng, out, outOffset, h, w, c, this.scratch);
          break;
        case 'normalize':
          normalizeImage(out, outOffset, n, s.mean, s.std);
          break;
        case 'randomErasing':
          randomErase(
            rng,
            {
              p: s.p ?? ERASING_DEFAULTS.p,
              scale: s.scale ?? ERASING_DEFAULTS.scale,
              ratio: s.ratio ?? ERASING_DEFAULTS.ratio,
              value: s.value ?? ERASING_DEFAULTS.value,
            },
            out,
            outOffset,
            h,
            w,
            c,
          );
          break;
        default:
          break;
      }
    }
  }

  private jitter(
    s: Extract<AugmentStep, { op: 'colorJitter' }>,
    rng: Random,
    img: Float32Array,
    offset: number,
    n: number,
    c: number,
  ): void {
    const order = [0, 1, 2, 3];
    rng.shuffle(order);
    const factor = (v: number | undefined) => (v ? rng.uniform(Math.max(0, 1 - v), 1 + v) : 1);
    const b = factor(s.brightness);
    const ct = factor(s.contrast);
    const sat = factor(s.saturation);
    const hue = s.hue ? rng.uniform(-s.hue, s.hue) : 0;
    for (const which of order) {
      if (which === 0 && b !== 1) adjustBrightness(img, offset, n, b);
      else if (which === 1 && ct !== 1) adjustContrast(img, offset, n, c, ct);
      else if (which === 2 && sat !== 1) adjustSaturation(img, offset, n, c, sat);
      else if (which === 3 && hue !== 0) adjustHue(img, offset, n, c, hue);
    }
  }
}
