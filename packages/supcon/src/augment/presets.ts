/**
 * Preset pipelines. `supcon`/`simclr`: the SupCon reference's CIFAR recipe (RandomResizedCrop
 * with scale [0.2, 1], flip, colour jitter 0.4/0.4/0.4/0.1 with p 0.8, grayscale p 0.2), plus
 * SimCLR's Gaussian blur (p 0.5, kernel ≈ 10% of the side) when `blur` is set, as for ImageNet-size
 * images. `ce`: crop and flip only (the reference's cross-entropy baseline). `autoaugment` and
 * `randaugment`: `ce` plus that policy. `none`: normalisation only (evaluation).
 */
import { check } from '../errors.js';
import type { AugmentStep } from './pipeline.js';

export const AUGMENT_PRESETS = ['supcon', 'simclr', 'ce', 'autoaugment', 'randaugment', 'none'] as const;
export type AugmentPreset = (typeof AUGMENT_PRESETS)[number];

export interface PresetOptions {
  /** Output [height, width]. */
  size: [number, number];
  /** Per-channel normalisation; omitted: no normalisation (values stay in [0, 1]). */
  mean?: number[];
  std?: number[];
  /** supcon/simclr: add Gaussian blur (SimCLR's ImageNet recipe). Default false. */
  blur?: boolean;
}

export function augmentPreset(name: AugmentPreset, options: PresetOptions): AugmentStep[] {
  check(
    (AUGMENT_PRESETS as readonly string[]).includes(name),
    'preset',
    `one of ${AUGMENT_PRESETS.join(', ')}`,
    name,
  );
  const { size } = options;
  const crop: AugmentStep = { op: 'randomResizedCrop', size, scale: [0.2, 1], ratio: [3 / 4, 4 / 3] };
  const flip: AugmentStep = { op: 'horizontalFlip', p: 0.5 };
  const steps: AugmentStep[] = [];
  switch (name) {
    case 'supcon':
    case 'simclr': {
      steps.push(
        crop,
        flip,
        { op: 'colorJitter', brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 },
        { op: 'randomGrayscale', p: 0.2 },
      );
      if (options.blur) {
        const k = Math.max(3, Math.round(0.1 * Math.min(...size)) | 1);
        steps.push({ op: 'gaussianBlur', kernelSize: k, sigma: [0.1, 2], p: 0.5 });
      }
      break;
    }
    case 'ce':
      steps.push(crop, flip);
      break;
    case 'autoaugment':
      steps.push(crop, flip, { op: 'autoAugment', policy: 'cifar10' });
      break;
    case 'randaugment':
      steps.push(crop, flip, { op: 'randAugment', numOps: 2, magnitude: 9, numMagnitudeBins: 31 });
      break;
    case 'none':
      steps.push({ op: 'resize', size });
      break;
  }
  if (options.mean && options.std) steps.push({ op: 'normalize', mean: options.mean, std: options.std });
  return steps;
}
