/**
 * Learning-rate schedules, evaluated per iteration (not per epoch) so warm-up is smooth and a resumed
 * run continues at exactly the same rate: lr = f(iteration) is a pure function.
 *
 *   peak      = baseLr · (scaleWithBatch ? batchSize / referenceBatch : 1)   (the "linear scaling rule")
 *   warm-up   : it < W          lr = start + (peak − start) · (it + 1) / W
 *   cosine    : W <= it < T     lr = minLr + (peak − minLr) · (1 + cos(π · (it − W) / (T − W))) / 2
 *   step      : W <= it         lr = peak · gamma^(number of milestones <= it)
 *   constant  : W <= it         lr = peak
 *
 * @example
 *   const s = { baseLr: 0.5, decay: 'cosine', totalIterations: 1000, warmupIterations: 100 } as const;
 *   learningRate(0, s); // 0.005
 */
import { check } from '../errors.js';

export const DECAYS = ['cosine', 'step', 'constant'] as const;
export type Decay = (typeof DECAYS)[number];

export interface Schedule {
  /** The learning rate for a batch of `referenceBatch` (or the peak rate without batch scaling). */
  baseLr: number;
  /** Total number of iterations of the run (epochs × iterations per epoch). */
  totalIterations: number;
  /** Default 'cosine'. */
  decay?: Decay;
  /** Linear warm-up length in iterations, default 0. */
  warmupIterations?: number;
  /** Warm-up start rate, default 0 (the first iteration already gets peak / W). */
  warmupStartLr?: number;
  /** Cosine floor, default 0. */
  minLr?: number;
  /** Step decay: iterations at which the rate is multiplied by `gamma`. */
  milestones?: number[];
  /** Step decay factor, default 0.1. */
  gamma?: number;
  /** Scale baseLr by batchSize / referenceBatch (Goyal et al. 2017); default false. */
  scaleWithBatch?: boolean;
  batchSize?: number;
  /** Default 256. */
  referenceBatch?: number;
}

/** The rate after batch scaling, reached at the end of warm-up. */
export function peakLearningRate(s: Schedule): number {
  if (!s.scaleWithBatch) return s.baseLr;
  const batch = s.batchSize ?? Number.NaN;
  check(
    Number.isInteger(batch) && batch > 0,
    'batchSize',
    'a positive integer when scaleWithBatch is true',
    s.batchSize,
  );
  return (s.baseLr * batch) / (s.referenceBatch ?? 256);
}

export function validateSchedule(s: Schedule): void {
  check(Number.isFinite(s.baseLr) && s.baseLr >= 0, 'baseLr', 'a finite number >= 0', s.baseLr);
  check(
    Number.isInteger(s.totalIterations) && s.totalIterations > 0,
    'totalIterations',
    'a positive integer',
    s.totalIterations,
  );
  const decay = s.decay ?? 'cosine';
  check(DECAYS.includes(decay), 'decay', `one of ${DECAYS.join(', ')}`, s.decay);
  const w = s.warmupIterations ?? 0;
  check(
    Number.isInteger(w) && w >= 0 && w < s.totalIterations,
    'warmupIterations',
    `an integer in 0..${s.totalIterations - 1} (less than totalIterations)`,
    s.warmupIterations,
  );
  check(Number.isFinite(s.minLr ?? 0) && (s.minLr ?? 0) >= 0, 'minLr', 'a finite number >= 0', s.minLr);
  check(Number.isFinite(s.gamma ?? 0.1) && (s.gamma ?? 0.1) > 0, 'gamma', 'a finite number > 0', s.gamma);
  const ms = s.milestones ?? [];
  check(
    ms.every((m, i) => Number.isInteger(m) && m >= 0 && (i === 0 || m > ms[i - 1]!)),
    'milestones',
    'increasing non-negative integers (iterations)',
    s.milestones,
  );
  peakLearningRate(s);
}

/** The learning rate of iteration `it` (0-based). */
export function learningRate(it: number, s: Schedule): number {
  check(Number.isInteger(it) && it >= 0, 'iteration', 'an integer >= 0', it);
  const peak = peakLearningRate(s);
  const w = s.warmupIterations ?? 0;
  if (it < w) {
    const start = s.warmupStartLr ?? 0;
    return start + ((peak - start) * (it + 1)) / w;
  }
  switch (s.decay ?? 'cosine') {
    case 'constant':
      return peak;
    case 'step': {
      const passed = (s.milestones ?? []).filter((m) => m <= it).length;
      return peak * (s.gamma ?? 0.1) ** passed;
    }
    case 'cosine': {
      const minLr = s.minLr ?? 0;
      const span = Math.max(1, s.totalIterations - w);
      const progress = Math.min(1, (it - w) / span);
      return minLr + ((peak - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
    }
  }
}
