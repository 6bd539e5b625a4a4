/** Validation of augmentation step lists at the public boundary (one error shape, naming the step). */
import { check } from '../errors.js';
import type { AugmentStep, ImageShape } from './pipeline.js';

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
      case 'randomErasing':
        checkP(s.p, `${at}.p`);
        if (s.scale) checkRange(s.scale, `${at}.scale`, 0, 1);
        if (s.ratio) checkRange(s.ratio, `${at}.ratio`, 1e-3, 1e3);
        check(
          s.value === undefined ||
            s.value === 'random' ||
            Number.isFinite(s.value) ||
            (Array.isArray(s.value) &&
              s.value.length === shape.channels &&
              s.value.every((v) => Number.isFinite(v))),
          `${at}.value`,
          `a number, ${shape.channels} per-channel numbers or "random"`,
          s.value,
        );
        break;
      default:
        check(
          false,
          `${at}.op`,
          'one of randomResizedCrop, resize, horizontalFlip, colorJitter, randomGrayscale, gaussianBlur, randAugment, autoAugment, normalize, randomErasing',
          (s as { op: unknown }).op,
        );
    }
  });
  return shape;
}
