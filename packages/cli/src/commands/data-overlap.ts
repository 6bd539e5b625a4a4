/**
 * Does augmenting ahead in a worker thread slow the training step? Times the Trainer's step
 * (small ResNet + projection head, SupCon loss, SGD) with views handed in ready-made, alone and
 * while a DataLoader worker prepares the next batches, in the order alone, with, alone (A B A).
 * Only `trainer.step()` is timed; the wait for the next batch is reported separately.
 */
import { DataLoader, type ImageSet } from '@supcon/node';
import { type AugmentStep, projectionHead, resolveConfig, smallResNet, Trainer } from 'supcon';

export interface OverlapResult {
  backend: string;
  batch: number;
  views: number;
  workers: number;
  steps: number;
  /** Median step time without and with the loader working beside it. */
  stepMsAlone: number;
  stepMsWithLoader: number;
  /** stepMsWithLoader / stepMsAlone − 1. */
  slowdown: number;
  /** Median time the training loop waited for the next augmented batch. */
  waitMs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function measureOverlap(
  set: ImageSet,
  steps: AugmentStep[],
  options: { batch: number; views: number; workers: number; steps: number; backend: string },
): Promise<OverlapResult> {
  const { batch, views, workers } = options;
  const viewShape: [number, number, number] = [set.height, set.width, set.channels];
  const encoder = smallResNet({ channels: set.channels, width: 16, seed: 1 });
  const head = projectionHead({ inputDim: encoder.outputDim, outputDim: 64, seed: 2 });
  let ready: Float32Array = new Float32Array(batch * views * set.height * set.width * set.channels).fill(0.5);
  const trainer = new Trainer({
    config: resolveConfig({ method: 'supcon', epochs: 1000, batchSize: batch, views, lr: 0.05 }),
    encoder,
    head,
    data: set,
    makeViews: () => ready,
    viewShape,
  });
  const timeStep = () => {
    const t = performance.now();
    trainer.step();
    return performance.now() - t;
  };
  for (let w = 0; w < 2; w++) timeStep(); // warm-up: kernels, JIT
  const alone: number[] = [];
  const withLoader: number[] = [];
  const waits: number[] = [];
  const runAlone = () => {
    for (let s = 0; s < options.steps; s++) alone.push(timeStep());
  };
  runAlone();
  const loader = new DataLoader(set, { batchSize: batch, views, steps, workers, seed: 5 });
  const batches = loader.epoch(0);
  await batches.next(); // start the workers and fill the prefetch queue before timing
  for (let s = 0; s < options.steps; s++) {
    const t = performance.now();
    const next = await batches.next();
    waits.push(performance.now() - t);
    if (!next.done) ready = next.value.images; // the step trains on the loader's batch
    withLoader.push(timeStep());
  }
  await batches.return(undefined);
  await loader.close();
  runAlone();
  trainer.dispose();
  const a = median(alone);
  const b = median(withLoader);
  return {
    backend: options.backend,
    batch,
    views,
    workers,
    steps: options.steps,
    stepMsAlone: a,
    stepMsWithLoader: b,
    slowdown: b / a - 1,
    waitMs: median(waits),
  };
}
