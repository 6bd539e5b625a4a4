/**
 * Does augmenting ahead in a worker thread slow the training step? Times the Trainer's step
 * (small ResNet + projection head, SupCon loss, SGD) in three modes, in the order
 * ready, ahead, inline, ahead, ready:
 *   ready  — views handed in ready-made (no augmentation cost at all: the baseline),
 *   ahead  — views from PrefetchingViews (a worker thread augments the next batches meanwhile),
 *   inline — views augmented on the training thread inside the step.
 * The target is ahead / ready − 1 < 5%.
 */
import { type ImageSet, PrefetchingViews } from '@supcon/node';
import { Augmenter, type AugmentStep, projectionHead, resolveConfig, smallResNet, Trainer } from 'supcon';

export interface OverlapResult {
  backend: string;
  batch: number;
  views: number;
  steps: number;
  /** Median step times (ms) of each mode. */
  readyMs: number;
  aheadMs: number;
  inlineMs: number;
  /** aheadMs / readyMs − 1: what augmenting in the worker costs the step. */
  slowdown: number;
  /** inlineMs / readyMs − 1: what augmenting on the training thread would cost. */
  inlineSlowdown: number;
  /** Requests answered from the worker's ring / computed inline, and the total wait for it. */
  prefetched: number;
  inlineRequests: number;
  waitMs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type MakeViews = ConstructorParameters<typeof Trainer>[0]['makeViews'] & {};

export async function measureOverlap(
  set: ImageSet,
  steps: AugmentStep[],
  options: { batch: number; views: number; steps: number; backend: string },
): Promise<OverlapResult> {
  const { batch, views } = options;
  const seed = 0;
  const encoder = smallResNet({ channels: set.channels, width: 16, seed: 1 });
  const head = projectionHead({ inputDim: encoder.outputDim, outputDim: 64, seed: 2 });
  const augmenter = new Augmenter(steps, { height: set.height, width: set.width, channels: set.channels });
  const readyViews = augmenter.apply(set.images, batch, { views, seed });
  const ready: MakeViews = () => readyViews;
  const inline: MakeViews = (images, count, o) => augmenter.apply(images, count, o);
  const ahead = new PrefetchingViews(set, { steps, batchSize: batch, views, seed });
  let current: MakeViews = ready;
  const trainer = new Trainer({
    config: resolveConfig({ method: 'supcon', epochs: 1000, batchSize: batch, views, lr: 0.05, seed }),
    encoder,
    head,
    data: set,
    makeViews: (images, count, o) => current(images, count, o),
    viewShape: [augmenter.output.height, augmenter.output.width, augmenter.output.channels],
  });
  const times = { ready: [] as number[], ahead: [] as number[], inline: [] as number[] };
  const run = (mode: keyof typeof times, n: number) => {
    current = mode === 'ready' ? ready : mode === 'ahead' ? ahead.makeViews : inline;
    for (let s = 0; s < n; s++) {
      const t = performance.now();
      trainer.step();
      times[mode].push(performance.now() - t);
    }
  };
  run('ahead', 2); // warm-up: kernels, JIT, the worker's first batches
  const half = Math.max(1, Math.ceil(options.steps / 2));
  run('ready', half);
  run('ahead', half);
  run('inline', options.steps);
  run('ahead', half);
  run('ready', half);
  trainer.dispose();
  await ahead.close();
  const r = median(times.ready);
  const a = median(times.ahead);
  const i = median(times.inline);
  return {
    backend: options.backend,
    batch,
    views,
    steps: options.steps,
    readyMs: r,
    aheadMs: a,
    inlineMs: i,
    slowdown: a / r - 1,
    inlineSlowdown: i / r - 1,
    prefetched: ahead.stats.prefetched,
    inlineRequests: ahead.stats.inline,
    waitMs: ahead.stats.waitMs,
  };
}
