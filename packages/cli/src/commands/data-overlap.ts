/**
 * Does augmenting ahead in a worker thread slow the training step? Times the Trainer's step
 * (small ResNet + projection head, SupCon loss, SGD) in three modes, interleaved in cycles of
 * two steps per mode (ready, ready, ahead, ahead, inline, inline) so that the other jobs on a shared
 * machine weigh on all modes alike; only the second step of each pair is timed (in ahead mode the
 * first one is where the worker learns the position and is augmented inline):
 *   ready  — views handed in ready-made (no augmentation cost at all: the baseline),
 *   ahead  — views from PrefetchingViews (a worker thread augments the next batches meanwhile),
 *   inline — views augmented on the training thread inside the step.
 * The target is ahead / ready − 1 < 5%.
 */
import { type ImageSet, PrefetchingViews } from '@supcon/node';
import {
  Augmenter,
  type AugmentStep,
  median,
  projectionHead,
  resolveConfig,
  smallResNet,
  Trainer,
} from 'supcon';

export interface OverlapResult {
  backend: string;
  batch: number;
  views: number;
  /** Timed steps per mode (one per cycle). */
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
  const pair = (mode: keyof typeof times, record: boolean) => {
    current = mode === 'ready' ? ready : mode === 'ahead' ? ahead.makeViews : inline;
    trainer.step();
    const t = performance.now();
    trainer.step();
    if (record) times[mode].push(performance.now() - t);
  };
  pair('ahead', false); // warm-up: kernels, JIT, the worker's start
  for (let cycle = 0; cycle < options.steps; cycle++) {
    pair('ready', true);
    pair('ahead', true);
    pair('inline', true);
  }
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
