/**
 * Worker of PrefetchingViews: walks the Trainer's batch order (the same sampler functions) ahead
 * of the training loop and augments each batch into a slot of a shared ring buffer.
 * Control words (Int32Array on shared memory): [0] = the next global step the trainer will ask for
 * (−1 until its first request), [1] = stop, [2] = step being written + 1 (0 = none),
 * [3 + s] = step held by slot s + 1 (0 = empty). Step g lives in slot g mod depth; the worker
 * only writes steps in [next, next + depth), so it never overwrites a slot the trainer may read.
 */
import { setPriority } from 'node:os';
import { workerData } from 'node:worker_threads';
import type { AugmentStep, ImageShape } from 'supcon';
import { importAugment, importSampler } from './import-augment.js';

interface Init {
  images: Uint8Array;
  shape: ImageShape;
  steps: AugmentStep[];
  batchSize: number;
  views: number;
  seed: number;
  sampler: { sampler?: 'random' | 'balanced'; samplesPerClass?: number };
  labels: Int32Array;
  depth: number;
  nice: number;
  control: Int32Array;
  slots: Float32Array;
  slotIndices: Int32Array;
}

const init = workerData as Init;
const { control, depth } = init;
// On Linux, setpriority(PRIO_PROCESS, 0) changes the calling thread only: this worker, not the trainer.
if (init.nice > 0) {
  try {
    setPriority(init.nice);
  } catch {
    // not permitted or not supported: run at normal priority
  }
}
try {
  const [{ Augmenter }, sampler] = await Promise.all([importAugment(), importSampler()]);
  const augmenter = new Augmenter(init.steps, init.shape);
  const { batchSize, views, seed } = init;
  const count = init.images.length / (init.shape.height * init.shape.width * init.shape.channels);
  const perEpoch = sampler.batchesPerEpoch(count, batchSize);
  const slotFloats = batchSize * views * augmenter.viewSize;
  let orderEpoch = -1;
  let order: Int32Array = new Int32Array(0);

  while (Atomics.load(control, 1) === 0) {
    const next = Atomics.load(control, 0);
    if (next < 0) {
      Atomics.wait(control, 0, next, 1000);
      continue;
    }
    let target = -1;
    for (let g = next; g < next + depth; g++) {
      if (Atomics.load(control, 3 + (g % depth)) !== g + 1) {
        target = g;
        break;
      }
    }
    if (target < 0) {
      Atomics.wait(control, 0, next, 1000); // every slot ahead is ready: sleep until the trainer moves on
      continue;
    }
    const epoch = Math.floor(target / perEpoch);
    if (epoch !== orderEpoch) {
      order = sampler.samplerOrder({ ...init.sampler, batchSize, seed }, init.labels, epoch);
      orderEpoch = epoch;
    }
    const indices = sampler.batchIndices(order, target % perEpoch, batchSize);
    const slot = target % depth;
    Atomics.store(control, 2, target + 1);
    Atomics.store(control, 3 + slot, 0);
    if (indices.length === batchSize) {
      const out = init.slots.subarray(slot * slotFloats, (slot + 1) * slotFloats);
      augmenter.applyAt(init.images, indices, { views, seed, epoch, out });
      init.slotIndices.set(indices, slot * batchSize);
      Atomics.store(control, 3 + slot, target + 1);
    }
    Atomics.store(control, 2, 0);
    Atomics.notify(control, 3 + slot);
  }
} catch (error) {
  // Tell the training thread first (it may be waiting on a slot), then die with the error.
  Atomics.store(control, 1, 2);
  for (let k = 0; k < 3 + depth; k++) Atomics.notify(control, k);
  throw error;
}
