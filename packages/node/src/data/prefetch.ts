/**
 * Augmentation ahead of a synchronous training loop. The Trainer asks for views inside its step
 * (`makeViews`); this object answers from a ring of batches that a worker thread has already
 * augmented, walking the Trainer's own batch order (its sampler functions) a few steps ahead:
 *
 *   const ahead = new PrefetchingViews(ds.train, { steps, batchSize: 256, views: 2, seed: config.seed });
 *   const trainer = new Trainer({ config, encoder, head, data: ds.train, makeViews: ahead.makeViews, viewShape });
 *   trainer.run();
 *   await ahead.close();
 *
 * A request the ring does not hold (the first one, a resumed run, a different order) is augmented
 * on the calling thread; the result is the same either way, because every view is seeded by
 * (seed, epoch, sample index, view). Only batches of exactly `batchSize` are prefetched.
 */
import { Worker } from 'node:worker_threads';
import {
  Augmenter,
  type AugmentStep,
  batchesPerEpoch,
  type ImageShape,
  InvalidArgumentError,
  type SamplerKind,
  samplerOrder,
} from 'supcon';
import type { ImageSet } from './image-set.js';

export interface PrefetchOptions {
  steps: AugmentStep[];
  /** The Trainer's batch size and seed (its sampler order is reproduced from them). */
  batchSize: number;
  seed: number;
  views: number;
  /** The Trainer's sampler (default 'random') and, for 'balanced', its samples per class. */
  sampler?: SamplerKind;
  samplesPerClass?: number;
  /** Batches kept ready ahead of the trainer (default 3). */
  depth?: number;
  /**
   * Niceness of the worker thread (0..19, default 0). On Linux a positive value lowers the priority
   * of that one thread, so on a machine whose cores the training step keeps busy the worker runs
   * mostly in the gaps of the step instead of preempting its compute threads.
   */
  nice?: number;
}

type MakeViewsOptions = { views: number; seed: number; epoch: number; indices: ArrayLike<number> };

export class PrefetchingViews {
  /** Counts of requests answered from the ring, computed inline, and the total wait for the worker. */
  readonly stats = { prefetched: 0, inline: 0, waitMs: 0 };
  private readonly worker: Worker;
  private readonly local: Augmenter;
  private readonly control: Int32Array;
  private readonly slots: Float32Array;
  private readonly slotIndices: Int32Array;
  private readonly depth: number;
  private readonly perEpoch: number;
  private readonly slotFloats: number;
  private readonly set: ImageSet;
  private readonly opts: PrefetchOptions;

  constructor(set: ImageSet, options: PrefetchOptions) {
    const depth = options.depth ?? 3;
    const nice = options.nice ?? 0;
    for (const [name, v, min, max] of [
      ['batchSize', options.batchSize, 1, Infinity],
      ['views', options.views, 1, Infinity],
      ['depth', depth, 1, Infinity],
      ['nice', nice, 0, 19],
    ] as const) {
      if (!(Number.isInteger(v) && v >= min && v <= max))
        throw new InvalidArgumentError(
          name,
          max < Infinity ? `an integer in ${min}..${max}` : `an integer >= ${min}`,
          v,
        );
    }
    const shape: ImageShape = { height: set.height, width: set.width, channels: set.channels };
    this.local = new Augmenter(options.steps, shape);
    this.set = set;
    this.opts = options;
    this.depth = depth;
    this.perEpoch = batchesPerEpoch(set.count, options.batchSize);
    this.slotFloats = options.batchSize * options.views * this.local.viewSize;
    const images = new Uint8Array(new SharedArrayBuffer(set.images.byteLength));
    images.set(set.images);
    this.control = new Int32Array(new SharedArrayBuffer(4 * (3 + depth)));
    this.control[0] = -1;
    this.slots = new Float32Array(new SharedArrayBuffer(4 * depth * this.slotFloats));
    this.slotIndices = new Int32Array(new SharedArrayBuffer(4 * depth * options.batchSize));
    this.worker = new Worker(new URL('./prefetch-worker.js', import.meta.url), {
      workerData: {
        images,
        shape,
        steps: options.steps,
        batchSize: options.batchSize,
        views: options.views,
        seed: options.seed,
        sampler: { sampler: options.sampler, samplesPerClass: options.samplesPerClass },
        labels: set.labels,
        depth,
        nice,
        control: this.control,
        slots: this.slots,
        slotIndices: this.slotIndices,
      },
    });
    this.worker.unref(); // never keeps the process alive on its own
    // A worker that fails (say, out of memory) must neither crash the run nor make it wait: the
    // worker marks control[1] = 2 before it dies, and every later request is augmented inline.
    this.worker.on('error', (error) => {
      this.workerError = error;
      Atomics.store(this.control, 1, 2);
    });
  }

  /** The error the worker died of, if it did (the run then continues with inline augmentation). */
  workerError: Error | undefined;

  /** The Trainer's `makeViews`: `[count, views, H, W, C]` for the requested samples. */
  readonly makeViews = (images: Uint8Array, count: number, o: MakeViewsOptions): Float32Array => {
    this.checkSameData(images, o.indices);
    const g = this.globalStep(o);
    let result: Float32Array | undefined;
    const alive = Atomics.load(this.control, 1) === 0;
    if (g !== undefined && alive && Atomics.load(this.control, 0) >= 0) result = this.take(g, o.indices);
    if (result) this.stats.prefetched++;
    else {
      this.stats.inline++;
      result = this.local.apply(images, count, {
        views: o.views,
        seed: o.seed,
        epoch: o.epoch,
        indices: o.indices,
      });
    }
    if (g !== undefined) {
      Atomics.store(this.control, 0, g + 1); // after the copy: the worker may now reuse this slot
      Atomics.notify(this.control, 0);
    }
    return result;
  };

  private orderEpoch = -1;
  private position = new Int32Array(0);

  /**
   * The global step (epoch · batches per epoch + step) of a request, found from where the Trainer's
   * sampler puts its first sample; undefined when the request is not one of the sampler's full batches.
   */
  private globalStep(o: MakeViewsOptions): number | undefined {
    const b = this.opts.batchSize;
    if (o.views !== this.opts.views || o.seed !== this.opts.seed || o.indices.length !== b) return undefined;
    if (this.orderEpoch !== o.epoch) {
      const order = samplerOrder(this.opts, this.set.labels, o.epoch);
      this.position = new Int32Array(this.set.count).fill(-1);
      // Batch starts only: a balanced epoch may draw a sample twice (take() checks every index).
      for (let at = 0; at < order.length; at += this.opts.batchSize) this.position[order[at]!] = at;
      this.orderEpoch = o.epoch;
    }
    const first = o.indices[0]!;
    if (!(first >= 0 && first < this.set.count)) return undefined;
    const at = this.position[first]!;
    if (at < 0 || at % b !== 0 || at / b >= this.perEpoch) return undefined;
    return o.epoch * this.perEpoch + at / b;
  }

  /**
   * Indices only make sense for the set the worker holds: a Trainer built on another set (say the
   * training split after carving out validation) would silently get views of the wrong images.
   * Comparing the first requested image with ours catches that at the first step.
   */
  private checkSameData(images: Uint8Array, indices: ArrayLike<number>): void {
    const size = this.set.height * this.set.width * this.set.channels;
    const i = indices[0];
    if (i === undefined) return;
    const ours =
      i >= 0 && i < this.set.count ? this.set.images.subarray(i * size, (i + 1) * size) : undefined;
    const theirs = images.subarray(0, size);
    if (!ours || theirs.length !== size || ours.some((v, k) => v !== theirs[k])) {
      throw new InvalidArgumentError(
        'images',
        `sample ${i} of the set PrefetchingViews was built with (pass it the Trainer's own data)`,
        'different pixels',
      );
    }
  }

  /** A copy of step `g` from the ring if the worker has it or is about to (within its window). */
  private take(g: number, indices: ArrayLike<number>): Float32Array | undefined {
    const s = g % this.depth;
    const next = Atomics.load(this.control, 0);
    if (g < next || g >= next + this.depth) return undefined; // outside the worker's window
    const t = performance.now();
    while (
      Atomics.load(this.control, 3 + s) !== g + 1 &&
      Atomics.load(this.control, 1) === 0 &&
      performance.now() - t < 10_000
    ) {
      Atomics.wait(this.control, 3 + s, Atomics.load(this.control, 3 + s), 20);
    }
    this.stats.waitMs += performance.now() - t;
    if (Atomics.load(this.control, 3 + s) !== g + 1) return undefined;
    const b = this.opts.batchSize;
    for (let i = 0; i < b; i++) if (this.slotIndices[s * b + i] !== indices[i]) return undefined;
    // A copy: the tensor made from it may outlive the slot, which the worker refills.
    return this.slots.slice(s * this.slotFloats, (s + 1) * this.slotFloats);
  }

  async close(): Promise<void> {
    Atomics.store(this.control, 1, 1);
    Atomics.notify(this.control, 0);
    await this.worker.terminate();
  }

  /** Samples in the set (for callers checking they passed the Trainer's data). */
  get count(): number {
    return this.set.count;
  }
}
