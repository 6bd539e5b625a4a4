/** What rank 0 of `trainDistributed` tells the launching process, one JSON line each on stdout. */
import type { EpochRecord, StepRecord } from 'supcon';
import type { DistributedResult } from './rank.js';

/** Starts every event line (an ASCII record separator, then a tag); other stdout lines pass through. */
export const EVENT_PREFIX = '\u001esupcon-rank ';

export type RankEvent =
  | { type: 'ready'; backend: string; resumedFrom: number; stepsPerEpoch: number; totalIterations: number }
  | { type: 'step'; record: StepRecord }
  | { type: 'epoch'; record: EpochRecord & { knnAccuracy?: number } }
  | { type: 'done'; result: DistributedResult }
  | { type: 'error'; message: string; exitCode: number };
