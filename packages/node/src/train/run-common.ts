/**
 * Pieces of a training run shared by the one-process session (session.ts) and the data-parallel
 * workers and coordinator (distributed/): the training augmentation, the kNN monitor, and the
 * metrics log's truncation on resume.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Augmenter, type AugmentStep, knnScores, type Network, topKAccuracy } from 'supcon';
import { type ImageSet, subset } from '../data/index.js';
import { writeFileDurable } from './checkpoint.js';
import { embedImages } from './embed.js';
import type { PreparedData } from './session.js';
import { augmentSteps, type RunSpec } from './spec.js';

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
  );
  const augmenter = new Augmenter(steps.train, {
    height: train.height,
    width: train.width,
    channels: train.channels,
  });
  return { steps, augmenter };
}

/** Drops records a killed process logged after its last checkpoint, and any torn last line. */
export function truncateMetrics(file: string, iteration: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      try {
        const r = JSON.parse(line) as { type: string; iteration: number };
        return r.type === 'step' ? r.iteration < iteration : r.iteration <= iteration;
      } catch {
        return false;
      }
    });
  writeFileDurable(file, kept.length ? `${kept.join('\n')}\n` : '');
}

/** kNN top-1 on (up to 2000 of) the validation images against (up to 10000) training images. */
export function knnMonitor(encoder: Network, data: PreparedData, steps: AugmentStep[], k: number): number {
  const bank = embedImages(encoder, takeFirst(data.train, 10000), steps);
  const query = embedImages(encoder, takeFirst(data.validation, 2000), steps);
  const classes = data.dataset.classes.length;
  return topKAccuracy(knnScores(bank, query.features, { classes, k }), query.labels, classes, 1);
}

function takeFirst(set: ImageSet, n: number): ImageSet {
  return set.count <= n
    ? set
    : subset(
        set,
        Int32Array.from({ length: n }, (_, i) => i),
      );
}
