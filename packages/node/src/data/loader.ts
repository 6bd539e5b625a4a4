/**
 * The training-side loader: seeded shuffling, batching, and augmentation ahead of the training
 * step in worker threads, so the step never waits for data.
 *
 *   const loader = new DataLoader(dataset.train, { batchSize: 256, views: 2, steps, seed: 0, workers: 1 });
 *   for await (const batch of loader.epoch(0)) {
 *     batch.images; // Float32Array [batchSize, views, H, W, C], sample-major (views of one sample adjacent)
 *     batch.labels; // Int32Array [batchSize]
 *   }
 *   await loader.close();
 *
 * Layout: `[batch, views, H, W, C]`. Reshape to `[batch·views, H, W, C]` for the encoder; its
 * output reshapes to `[batch, views, dim]`, the shape supConLoss takes. Each sample's views are
 * seeded by (seed, epoch, dataset index, view), so the result is identical for any worker count.
 */
import { Worker } from 'node:worker_threads';
import {
  Augmenter,
  type AugmentStep,
  hashSeed,
  type ImageShape,
  InvalidArgumentError,
  permutation,
} from 'supcon';
import type { ImageSet } from './image-set.js';
import type { WorkReply, WorkRequest } from './loader-worker.js';

export interface LoaderOptions {
  batchSize: number;
  /** Views per sample (default 1; 2 for SupCon/SimCLR). */
  views?: number;
  /** Augmentation pipeline (see augmentPreset); each view goes through it independently. */
  steps: AugmentStep[];
  /** Seed of shuffling and augmentation (default 0). */
  seed?: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Drop the last, smaller batch (default true for training: SupCon's batch statistics). */
  dropLast?: boolean;
  /** Worker threads (default 1); 0 augments on the calling thread, still one batch ahead. */
  workers?: number;
  /** Batches prepared ahead of the one being consumed (default 2 per worker, at least 1). */
  prefetch?: number;
  /**
   * Sample order of an epoch, replacing the loader's own seeded shuffle, e.g. the Trainer's
   * sampler `(e) => epochOrder(count, seed, e)`, so both see the same batches.
   */
  order?: (epoch: number) => Int32Array;
}

export interface Batch {
  /** Float32Array [batchSize, views, H, W, C]. */
  images: Float32Array;
  shape: [number, number, number, number, number];
  labels: Int32Array;
  /** Dataset indices of the samples. */
  indices: Int32Array;
  epoch: number;
  /** Batch number within the epoch. */
  step: number;
}

function positiveInt(value: number | undefined, name: string, min: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min))
    throw new InvalidArgumentError(name, `an integer >= ${min}`, value);
}

export class DataLoader {
  readonly batchesPerEpoch: number;
  readonly output: ImageShape;
  private readonly opts: Required<Omit<LoaderOptions, 'order'>>;
  private readonly customOrder: ((epoch: number) => Int32Array) | undefined;
  private readonly shared: Uint8Array;
  private readonly input: ImageShape;
  private readonly local: Augmenter;
  private workers: Worker[] = [];
  private pending = new Map<number, { resolve: (x: Float32Array) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly set: ImageSet,
    options: LoaderOptions,
  ) {
    positiveInt(options.batchSize, 'batchSize', 1);
    positiveInt(options.views, 'views', 1);
    positiveInt(options.workers, 'workers', 0);
    positiveInt(options.prefetch, 'prefetch', 1);
    const workers = options.workers ?? 1;
    const { order: customOrder, ...rest } = options;
    this.customOrder = customOrder;
    this.opts = {
      views: 1,
      seed: 0,
      shuffle: true,
      dropLast: true,
      workers,
      prefetch: Math.max(1, 2 * workers),
      ...rest,
    };
    if (this.opts.batchSize > set.count)
      throw new InvalidArgumentError(
        'batchSize',
        `at most the ${set.count} samples of the split`,
        this.opts.batchSize,
      );
    this.input = { height: set.height, width: set.width, channels: set.channels };
    this.local = new Augmenter(this.opts.steps, this.input); // validates the steps here, not in a worker
    this.output = this.local.output;
    this.batchesPerEpoch = this.opts.dropLast
      ? Math.floor(set.count / this.opts.batchSize)
      : Math.ceil(set.count / this.opts.batchSize);
    // Workers read the images from shared memory: one copy for all of them.
    const sab = new SharedArrayBuffer(set.images.byteLength);
    this.shared = new Uint8Array(sab);
    this.shared.set(set.images);
  }

  private startWorkers(): void {
    if (this.workers.length > 0 || this.opts.workers === 0) return;
    for (let k = 0; k < this.opts.workers; k++) {
      const worker = new Worker(new URL('./loader-worker.js', import.meta.url), {
        workerData: { images: this.shared, shape: this.input, steps: this.opts.steps },
      });
      worker.on('message', (reply: WorkReply) => {
        const waiter = this.pending.get(reply.id);
        if (!waiter) return;
        this.pending.delete(reply.id);
        if (this.pending.size === 0) for (const w of this.workers) w.unref();
        if ('error' in reply) waiter.reject(new Error(reply.error));
        else waiter.resolve(reply.images);
      });
      worker.on('error', (error) => {
        for (const w of this.pending.values()) w.reject(error);
        this.pending.clear();
      });
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** Sample order of an epoch: a seeded permutation, or 0..n-1 without shuffling. */
  order(epoch: number): Int32Array {
    if (this.customOrder) {
      const order = this.customOrder(epoch);
      if (order.length !== this.set.count || order.some((i) => i < 0 || i >= this.set.count)) {
        throw new InvalidArgumentError(
          'order',
          `a permutation of 0..${this.set.count - 1}`,
          `${order.length} indices`,
        );
      }
      return order;
    }
    if (!this.opts.shuffle) return Int32Array.from({ length: this.set.count }, (_, i) => i);
    return permutation(this.set.count, hashSeed(this.opts.seed, epoch));
  }

  private request(indices: Int32Array, epoch: number, slot: number): Promise<Float32Array> {
    const { views, seed } = this.opts;
    if (this.opts.workers === 0) {
      // Still asynchronous so the consumer's step and this batch interleave at await points.
      return new Promise((resolve) =>
        setImmediate(() => resolve(this.local.applyAt(this.shared, indices, { views, seed, epoch }))),
      );
    }
    this.startWorkers();
    const id = this.nextId++;
    const worker = this.workers[slot % this.workers.length]!;
    // Workers keep the process alive only while a batch is being prepared, so a loader that is
    // never closed does not hang the program at exit.
    for (const w of this.workers) w.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, indices, views, seed, epoch } satisfies WorkRequest);
    });
  }

  /** The batches of one epoch, augmented ahead of consumption. */
  async *epoch(epoch: number): AsyncGenerator<Batch> {
    if (this.closed) throw new Error('DataLoader is closed.');
    const order = this.order(epoch);
    const { batchSize, views } = this.opts;
    const { height, width, channels } = this.output;
    const slices = Array.from({ length: this.batchesPerEpoch }, (_, b) =>
      order.subarray(b * batchSize, Math.min(order.length, (b + 1) * batchSize)),
    );
    const inflight: Promise<Float32Array>[] = [];
    let issued = 0;
    const fill = () => {
      while (issued < slices.length && inflight.length < this.opts.prefetch) {
        inflight.push(this.request(slices[issued]!.slice(), epoch, issued));
        issued++;
      }
    };
    fill();
    for (let step = 0; step < slices.length; step++) {
      const images = await inflight.shift()!;
      fill();
      const indices = slices[step]!.slice();
      const labels = Int32Array.from(indices, (i) => this.set.labels[i]!);
      yield { images, shape: [indices.length, views, height, width, channels], labels, indices, epoch, step };
    }
  }

  /** Stops the worker threads. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
