/** A small robustness.json as `supcon robustness` writes it without calibration fields, for the tests. */
import type { RobustnessResult } from '@supcon/node';

export function robustnessResult(over: Partial<RobustnessResult> = {}): RobustnessResult {
  return {
    cleanAccuracy: 0.9,
    accuracy: { contrast: [0.8, 0.5], jpeg: [0.85, 0.8] },
    severities: [1, 5],
    meanCorruptionError: 0.2625,
    testImages: 2000,
    dataset: 'fashion-mnist',
    seed: 0,
    seconds: 1,
    ...over,
  };
}
