/** AutoAugment policies (data): the one learned on CIFAR-10. */
import type { AugmentOpName } from './autoaugment.js';

export type PolicyStep = [AugmentOpName, number, number | null];
/** AutoAugment's policy learned on CIFAR-10 (Cubuk et al. 2019, table in the appendix): 25 sub-policies of (op, probability, magnitude bin of 10). */
export const CIFAR10_POLICY: [PolicyStep, PolicyStep][] = [
  [
    ['Invert', 0.1, null],
    ['Contrast', 0.2, 6],
  ],
  [
    ['Rotate', 0.7, 2],
    ['TranslateX', 0.3, 9],
  ],
  [
    ['Sharpness', 0.8, 1],
    ['Sharpness', 0.9, 3],
  ],
  [
    ['ShearY', 0.5, 8],
    ['TranslateY', 0.7, 9],
  ],
  [
    ['AutoContrast', 0.5, null],
    ['Equalize', 0.9, null],
  ],
  [
    ['ShearY', 0.2, 7],
    ['Posterize', 0.3, 7],
  ],
  [
    ['Color', 0.4, 3],
    ['Brightness', 0.6, 7],
  ],
  [
    ['Sharpness', 0.3, 9],
    ['Brightness', 0.7, 9],
  ],
  [
    ['Equalize', 0.6, null],
    ['Equalize', 0.5, null],
  ],
  [
    ['Contrast', 0.6, 7],
    ['Sharpness', 0.6, 5],
  ],
  [
    ['Color', 0.7, 7],
    ['TranslateX', 0.5, 8],
  ],
  [
    ['Equalize', 0.3, null],
    ['AutoContrast', 0.4, null],
  ],
  [
    ['TranslateY', 0.4, 3],
    ['Sharpness', 0.2, 6],
  ],
  [
    ['Brightness', 0.9, 6],
    ['Color', 0.2, 8],
  ],
  [
    ['Solarize', 0.5, 2],
    ['Invert', 0.0, null],
  ],
  [
    ['Equalize', 0.2, null],
    ['AutoContrast', 0.6, null],
  ],
  [
    ['Equalize', 0.2, null],
    ['Equalize', 0.6, null],
  ],
  [
    ['Color', 0.9, 9],
    ['Equalize', 0.6, null],
  ],
  [
    ['AutoContrast', 0.8, null],
    ['Solarize', 0.2, 8],
  ],
  [
    ['Brightness', 0.1, 3],
    ['Color', 0.7, 0],
  ],
  [
    ['Solarize', 0.4, 5],
    ['AutoContrast', 0.9, null],
  ],
  [
    ['TranslateY', 0.9, 9],
    ['TranslateY', 0.7, 9],
  ],
  [
    ['AutoContrast', 0.9, null],
    ['Solarize', 0.8, 3],
  ],
  [
    ['Equalize', 0.8, null],
    ['Invert', 0.1, null],
  ],
  [
    ['TranslateY', 0.7, 9],
    ['AutoContrast', 0.9, null],
  ],
];
