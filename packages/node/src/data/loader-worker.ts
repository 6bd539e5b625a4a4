/**
 * Worker thread of the DataLoader: holds the dataset (shared memory, not copied) and an
 * Augmenter; for each request it augments the listed samples and transfers the floats back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AugmentStep, ImageShape } from 'supcon';
import { importAugment } from './import-augment.js';

interface Init {
  images: Uint8Array;
  shape: ImageShape;
  steps: AugmentStep[];
}
export interface WorkRequest {
  id: number;
  indices: Int32Array;
  views: number;
  seed: number;
  epoch: number;
}
export type WorkReply = { id: number; images: Float32Array } | { id: number; error: string };

const init = workerData as Init;
const { Augmenter } = await importAugment();
const augmenter = new Augmenter(init.steps, init.shape);
parentPort!.on('message', (req: WorkRequest) => {
  try {
    const images = augmenter.applyAt(init.images, req.indices, {
      views: req.views,
      seed: req.seed,
      epoch: req.epoch,
    });
    parentPort!.postMessage({ id: req.id, images } satisfies WorkReply, [images.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort!.postMessage({
      id: req.id,
      error: error instanceof Error ? error.message : String(error),
    } satisfies WorkReply);
  }
});
