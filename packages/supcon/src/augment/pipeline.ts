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
import { CropTables, horizontalFlip, type Pixels, resizedCrop } from './geometry.js';
import { hashSeed, Random } from './random.js';

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
  | { op: 'normalize'; mean: number[]; std: number[] };

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

function checkRange(r: unknown, name: string, lo: number, hi: number): void {
  check(
    Array.isArray(r) &&
      r.length === 2 &&
      r.every((v) => Number.isFinite(v) && v >= lo && v <= hi) &&
      r[0] <= r[1],
    name,
    `[min, max] with ${lo} <= min <= max <= ${hi}`,
    r,
  );
}
function checkP(p: unknown, name: string): void {
  check(p === undefined || (typeof p === 'number' && p >= 0 && p <= 1), name, 'a probability in [0, 1]', p);
}
function checkFactor(v: unknown, name: string, max = Number.POSITIVE_INFINITY): void {
  check(v === undefined || (typeof v === 'number' && v >= 0 && v <= max), name, `a number in [0, ${max}]`, v);
}

/** Validates a step list against the input shape; returns the output shape. */
export function validateSteps(steps: AugmentStep[], input: ImageShape): ImageShape {
  check(Array.isArray(steps), 'steps', 'an array of augmentation steps', steps);
  check(
    Number.isInteger(input.height) && Number.isInteger(input.width) && input.height > 0 && input.width > 0,
    'input',
    'a positive integer height and width',
    [input.height, input.width],
  );
  check(input.channels === 1 || input.channels === 3, 'input.channels', '1 or 3', input.channels);
  let shape = { ...input };
  steps.forEach((s, i) => {
    const at = `steps[${i}]`;
    switch (s.op) {
      case 'randomResizedCrop':
      case 'resize':
        check(i === 0, `${at}.op`, 'crops and resizes only as the first step', s.op);
        check(
          Array.isArray(s.size) && s.size.length === 2 && s.size.every((v) => Number.isInteger(v) && v > 0),
          `${at}.size`,
          '[height, width] of positive integers',
          s.size,
        );
        if (s.op === 'randomResizedCrop') {
          if (s.scale) checkRange(s.scale, `${at}.scale`, 0, 1);
          if (s.ratio) checkRange(s.ratio, `${at}.ratio`, 1e-3, 1e3);
        }
        shape = { ...shape, height: s.size[0], width: s.size[1] };
        break;
      case 'horizontalFlip':
      case 'randomGrayscale':
        checkP(s.p, `${at}.p`);
        break;
      case 'colorJitter':
        checkFactor(s.brightness, `${at}.brightness`);
        checkFactor(s.contrast, `${at}.contrast`);
        checkFactor(s.saturation, `${at}.saturation`);
        checkFactor(s.hue, `${at}.hue`, 0.5);
        checkP(s.p, `${at}.p`);
        break;
      case 'gaussianBlur':
        check(
          Number.isInteger(s.kernelSize) && s.kernelSize > 0 && s.kernelSize % 2 === 1,
          `${at}.kernelSize`,
          'an odd positive integer',
          s.kernelSize,
        );
        check(
          (s.kernelSize - 1) / 2 < Math.min(shape.height, shape.width),
          `${at}.kernelSize`,
          `a kernel narrower than twice the ${shape.height}×${shape.width} image`,
          s.kernelSize,
        );
        if (s.sigma) checkRange(s.sigma, `${at}.sigma`, 1e-6, 1e3);
        checkP(s.p, `${at}.p`);
        break;
      case 'randAugment':
        check(
          s.numOps === undefined || (Number.isInteger(s.numOps) && s.numOps >= 0),
          `${at}.numOps`,
          'a non-negative integer',
          s.numOps,
        );
        check(
          s.numMagnitudeBins === undefined ||
            (Number.isInteger(s.numMagnitudeBins) && s.numMagnitudeBins >= 2),
          `${at}.numMagnitudeBins`,
          'an integer >= 2',
          s.numMagnitudeBins,
        );
        check(
          s.magnitude === undefined ||
            (Number.isInteger(s.magnitude) && s.magnitude >= 0 && s.magnitude < (s.numMagnitudeBins ?? 31)),
          `${at}.magnitude`,
          `an integer bin in 0..${(s.numMagnitudeBins ?? 31) - 1}`,
          s.magnitude,
        );
        break;
      case 'autoAugment':
        check(s.policy === undefined || s.policy === 'cifar10', `${at}.policy`, '"cifar10"', s.policy);
        break;
      case 'normalize':
        check(
          Array.isArray(s.mean) && s.mean.length === shape.channels,
          `${at}.mean`,
          `${shape.channels} per-channel means`,
          s.mean,
        );
        check(
          Array.isArray(s.std) && s.std.length === shape.channels && s.std.every((v) => v > 0),
          `${at}.std`,
          `${shape.channels} positive standard deviations`,
          s.std,
        );
        break;
      default:
        check(
          false,
          `${at}.op`,
          'one of randomResizedCrop, resize, horizontalFlip, colorJitter, randomGrayscale, gaussianBlur, randAugment, autoAugment, normalize',
          (s as { op: unknown }).op,
        );
    }
  });
  return shape;
}

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
