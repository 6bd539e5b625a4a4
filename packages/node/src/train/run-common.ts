/**
 * Pieces of a training run shared by the one-process session (session.ts) and the data-parallel
 * MPI ranks (distributed/rank.ts) besides the loop (run-loop.ts): the training augmentation, the kNN
 * monitor (and what it measured on), and the record of the command line that started or resumed the
 * run. The metrics log's helpers moved to run-folder.ts and are re-exported here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Augmenter, type AugmentStep, knnScores, type Network, topKAccuracy } from 'supcon';
import { type ImageSet, subset } from '../data/index.js';
import { writeFileDurable } from './checkpoint.js';
import { embedImages } from './embed.js';
import type { PreparedData } from './session.js';
import { augmentSteps, type RunSpec } from './spec.js';

export { lastEpochRecord, truncateMetrics } from './run-folder.js';

/** The run's augmentation steps (train and eval) and the training augmenter for its image shape. */
export function trainAugmenter(
  spec: RunSpec,
  data: PreparedData,
): { steps: { train: AugmentStep[]; eval: AugmentStep[] }; augmenter: Augmenter } {
  const { train } = data;
  const steps = augmentSteps(
    spec.data.augment,
    [train.height, train.width],
    data.dataset.mean,
    data.dataset.std,
    { magnitude: spec.data.randAugmentMagnitude, ops: spec.data.randAugmentOps },
    { p: spec.data.randomErasing, scale: spec.data.randomErasingScale },
  );
  const augmenter = new Augmenter(steps.train, {
    height: train.height,
    width: train.width,
    channels: train.channels,
  });
  return { steps, augmenter };
}

/** The kNN monitor's bank (first training images), queries (first validation images) and vote τ. */
const MONITOR = { bank: 10000, queries: 2000, temperature: 0.1 } as const;

/** kNN top-1 on (up to 2000 of) the validation images against (up to 10000) training images. */
export function knnMonitor(encoder: Network, data: PreparedData, steps: AugmentStep[], k: number): number {
  const bank = embedImages(encoder, takeFirst(data.train, MONITOR.bank), steps);
  const query = embedImages(encoder, takeFirst(data.validation, MONITOR.queries), steps);
  const classes = data.dataset.classes.length;
  const { temperature } = MONITOR;
  return topKAccuracy(knnScores(bank, query.features, { classes, k, temperature }), query.labels, classes, 1);
}

/** What `knnMonitor(…, k)` measures on `data`: k (at most the bank), bank size, τ, query images. */
export function knnMonitorSettings(
  data: PreparedData,
  k: number,
): { k: number; bank: number; temperature: number; images: number } {
  const bank = Math.min(data.train.count, MONITOR.bank);
  const images = Math.min(data.validation.count, MONITOR.queries);
  return { k: Math.min(k, bank), bank, temperature: MONITOR.temperature, images };
}

function takeFirst(set: ImageSet, n: number): ImageSet {
  return set.count <= n
    ? set
    : subset(
        set,
        Int32Array.from({ length: n }, (_, i) => i),
      );
}

/** This process's command line: `supcon …` when the CLI runs it, else `node SCRIPT …`. */
export function processCommandLine(): string[] {
  const [, script = '', ...args] = process.argv;
  const name = basename(script);
  return name === 'supcon' || name === 'supcon.js' ? ['supcon', ...args] : ['node', script, ...args];
}

/**
 * Records in summary.json (merged, other fields kept) what started the run: `startedAt` (ISO date)
 * and `commandLine` for a fresh start, one more `resumes` entry (date, command line, iteration it
 * continued from) for a resume. The report shows them.
 */
export function recordInvocation(summaryFile: string, commandLine: string[], resumedFrom?: number): void {
  let old: Record<string, unknown> = {};
  try {
    old = existsSync(summaryFile)
      ? (JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, unknown>)
      : {};
  } catch {
    // a damaged summary is replaced by what is known now
  }
  const at = new Date().toISOString();
  const fields =
    resumedFrom === undefined
      ? { startedAt: at, commandLine }
      : {
          resumes: [
            ...(Array.isArray(old['resumes']) ? (old['resumes'] as unknown[]) : []),
            { at, commandLine, fromIteration: resumedFrom },
          ],
        };
  writeFileDurable(summaryFile, `${JSON.stringify({ ...old, ...fields }, null, 2)}\n`);
}
