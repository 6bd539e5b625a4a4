/**
 * Trainer overhead: the median time of `Trainer.step()` against a bare step of the same model, loss
 * and optimiser (forward, head, SupCon loss, gradients, SGD update, nothing else), measured A B A in
 * one process. Augmentation is excluded from both: the bare step reuses one input tensor, the
 * Trainer's `makeViews` hands out a copy of ready-made views (what PrefetchingViews does when its
 * worker is ahead), so the Trainer's own work (sampler, gather, labels, input tensor, schedule, loss
 * read-back) is what the ratio shows. Also reports the process CPU time per step, which other jobs on
 * a shared machine disturb less than wall time (most of all with the native engine on one thread).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Augmenter,
  batchIndices,
  createOptimizer,
  epochOrder,
  median,
  type Network,
  resolveConfig,
  supConLoss,
  Trainer,
  variableGrads,
} from 'supcon';
import type { ImageSet } from '../data/image-set.js';
import { PrefetchingViews } from '../data/prefetch.js';
import {
  augmentSteps,
  buildEncoder,
  buildHead,
  type EncoderName,
  encoderSpecFor,
  presetSpec,
  type RunSpec,
} from './spec.js';

export interface OverheadResult {
  bareMs: number[];
  trainerMs: number[];
  /** Median trainer step / median bare step. */
  ratio: number;
  /** Process CPU time per step (ms) of each step, and the ratio of their medians. */
  bareCpuMs: number[];
  trainerCpuMs: number[];
  cpuRatio: number;
}

export function benchTrainerOverhead(options: {
  encoder: 'small-resnet' | 'resnet18' | 'mlp';
  size: number;
  channels: number;
  batchSize: number;
  repeats?: number;
  /**
   * Let the Trainer convert its uint8 batch to floats on the training thread (its default
   * `makeViews`, used when no augmentation is given) instead of receiving ready views: how this
   * benchmark measured before, when the conversion weighed on the Trainer side only.
   */
  convertOnTrainerThread?: boolean;
}): OverheadResult {
  const { size, channels, batchSize, repeats = 5 } = options;
  const spec = presetSpec('fashion-quick');
  spec.model.encoder = encoderSpecFor(options.encoder);
  spec.train = resolveConfig({ method: 'supcon', epochs: 1, batchSize, lr: 0.01 });
  const shape: [number, number, number] = [size, size, channels];
  const encoder = buildEncoder(spec.model, shape, 0);
  const head = buildHead(spec, encoder.outputDim, 10);
  const count = batchSize * (3 * repeats + 4);
  const images = new Uint8Array(count * size * size * channels).map((_, i) => (i * 2654435761) >>> 24);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
  const data = { images, labels, count, height: size, width: size, channels };
  const x = tf.randomUniform([batchSize * 2, ...shape]); // [2B, H, W, C]
  const views = x.dataSync() as Float32Array; // the same values, sample-major as the Trainer wants
  const trainer = new Trainer({
    config: spec.train,
    encoder,
    head,
    data,
    ...(options.convertOnTrainerThread ? {} : { makeViews: () => views.slice() }),
  });
  const optimizer = createOptimizer(spec.train.optimizer);
  const bare = bareStep(encoder, head, optimizer, batchSize, x);
  const result: Omit<OverheadResult, 'ratio' | 'cpuRatio'> = {
    bareMs: [],
    trainerMs: [],
    bareCpuMs: [],
    trainerCpuMs: [],
  };
  const time = (f: () => void, wall: number[], cpu: number[]) => {
    const c = process.cpuUsage();
    const t = performance.now();
    f();
    wall.push(performance.now() - t);
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
  };
  for (let i = 0; i < 2; i++) {
    bare();
    trainer.step();
  }
  for (let r = 0; r < repeats; r++) {
    time(bare, result.bareMs, result.bareCpuMs);
    time(() => trainer.step(), result.trainerMs, result.trainerCpuMs);
    time(bare, result.bareMs, result.bareCpuMs);
  }
  trainer.dispose();
  optimizer.dispose();
  x.dispose();
  return {
    ...result,
    ratio: median(result.trainerMs) / median(result.bareMs),
    cpuRatio: median(result.trainerCpuMs) / median(result.bareCpuMs),
  };
}

function bareStep(
  encoder: Network,
  head: Network,
  optimizer: ReturnType<typeof createOptimizer>,
  batch: number,
  x: tf.Tensor,
): () => void {
  const params = [...encoder.parameters(), ...head.parameters()];
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  return () =>
    tf.tidy(() => {
      const vars = params.map((p) => p.variable);
      const { value, grads } = variableGrads(() => {
        const z = head.apply(encoder.apply(x, true), true); // [2B, D]
        return supConLoss(tf.reshape(z, [batch, 2, -1]), labels, { temperature: 0.1 }) as tf.Scalar;
      }, vars);
      optimizer.step(
        params,
        vars.map((v) => grads[v.name]!),
        0.01,
      );
      value.dataSync();
    });
}

/** A step-time comparison mode of `benchOverlap`. */
export type OverlapMode = 'ready' | 'ahead' | 'ahead-nice' | 'inline';
export const OVERLAP_MODES: readonly OverlapMode[] = ['ready', 'ahead', 'ahead-nice', 'inline'];

export interface OverlapOptions {
  /** The training images (the Trainer walks its own seeded order over them). */
  set: ImageSet;
  mean: number[];
  std: number[];
  encoder: EncoderName;
  batchSize: number;
  /** The run spec's augmentation (default 'light', the demo's). */
  augment?: RunSpec['data']['augment'];
  /** Modes, interleaved in this order in every round (default ready, ahead). */
  modes?: OverlapMode[];
  /** Rounds of blocks (default 5); each block is one untimed step, then `blockSteps` timed ones. */
  rounds?: number;
  blockSteps?: number;
  /** Niceness of the worker in 'ahead-nice' mode (default 19). */
  nice?: number;
  /** Prefetch depth (default 3). */
  depth?: number;
}

export interface OverlapModeResult {
  /** Median step time (ms) over every timed step of the mode. */
  medianMs: number;
  stepsMs: number[];
  /** Process CPU time per timed step (ms; both OpenMP threads and the worker count). */
  cpuMsPerStep: number;
  /** Prefetching modes: requests served from the ring / inline, total wait for the worker (ms). */
  prefetched?: number;
  inline?: number;
  waitMs?: number;
}

export interface OverlapResult {
  encoder: EncoderName;
  batchSize: number;
  views: number;
  augment: RunSpec['data']['augment'];
  rounds: number;
  blockSteps: number;
  /** Median time of augmenting one batch on the calling thread (ms), measured before the rounds. */
  augmentMsPerBatch: number;
  modes: Partial<Record<OverlapMode, OverlapModeResult>>;
  /** (median step of 'ahead-nice', training's default, or else 'ahead') / (median step of 'ready') − 1, in percent. */
  slowdownPct: number;
  /** The same for every mode against 'ready'. */
  slowdownPctByMode: Partial<Record<OverlapMode, number>>;
}

/**
 * Does augmenting in a worker slow the training step? The same Trainer (the demo's model and loss)
 * takes steps in blocks, one mode per block, modes interleaved A B A B … over `rounds`, so the load
 * from other jobs weighs on every mode alike:
 *   ready      — the block's views were augmented before the block (outside the timed region);
 *   ahead      — PrefetchingViews: its worker augments the next batches while the step runs;
 *   ahead-nice — the same with the worker thread at a lower priority (`nice`);
 *   inline     — augmented on the training thread inside the step.
 * The first step of each block is untimed (a prefetcher resynchronises there after the other modes'
 * steps, inline). Every mode sees the same kind of batches: real images in the Trainer's order.
 */
export async function benchOverlap(options: OverlapOptions): Promise<OverlapResult> {
  const { set, batchSize } = options;
  const modes = options.modes ?? ['ready', 'ahead'];
  const rounds = options.rounds ?? 5;
  const blockSteps = options.blockSteps ?? 4;
  const augment = options.augment ?? 'light';
  const spec = presetSpec('fashion-quick');
  spec.model.encoder = encoderSpecFor(options.encoder);
  spec.data.augment = augment;
  spec.train = resolveConfig({ ...spec.train, epochs: 1000, batchSize });
  const { seed, views } = spec.train;
  const shape: [number, number, number] = [set.height, set.width, set.channels];
  const encoder = buildEncoder(spec.model, shape, seed);
  const head = buildHead(spec, encoder.outputDim, 10);
  const steps = augmentSteps(augment, [set.height, set.width], options.mean, options.std).train;
  const augmenter = new Augmenter(steps, { height: set.height, width: set.width, channels: set.channels });
  const prefetchers: Partial<Record<OverlapMode, PrefetchingViews>> = {};
  const common = { steps, batchSize, views, seed, depth: options.depth ?? 3 };
  if (modes.includes('ahead')) prefetchers.ahead = new PrefetchingViews(set, { ...common, nice: 0 });
  if (modes.includes('ahead-nice'))
    prefetchers['ahead-nice'] = new PrefetchingViews(set, { ...common, nice: options.nice ?? 19 });
  let ready: Float32Array[] = [];
  let mode: OverlapMode = 'inline';
  const trainer = new Trainer({
    config: spec.train,
    encoder,
    head,
    data: set,
    makeViews: (images, count, o) => {
      if (mode === 'ready') return ready.shift()!;
      const p = prefetchers[mode];
      return p ? p.makeViews(images, count, o) : augmenter.apply(images, count, o);
    },
    viewShape: [augmenter.output.height, augmenter.output.width, augmenter.output.channels],
  });
  const perEpoch = trainer.stepsPerEpoch;
  /** The views of the trainer's next `n` steps, computed now (for 'ready'). */
  const prepare = (n: number) => {
    const out: Float32Array[] = [];
    for (let k = 0; k < n; k++) {
      const it = trainer.position.iteration + k;
      const epoch = Math.floor(it / perEpoch);
      const indices = batchIndices(epochOrder(set.count, seed, epoch), it % perEpoch, batchSize);
      out.push(augmenter.applyAt(set.images, indices, { views, seed, epoch }));
    }
    return out;
  };
  const augmentMs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    prepare(1);
    augmentMs.push(performance.now() - t);
  }
  try {
    mode = 'inline';
    trainer.step(); // warm-up: kernels, primitives, JIT
    trainer.step();
    const times = Object.fromEntries(modes.map((m) => [m, { ms: [] as number[], cpu: 0 }]));
    for (let r = 0; r < rounds; r++) {
      for (const m of modes) {
        if (m === 'ready') ready = prepare(blockSteps + 1);
        mode = m;
        trainer.step(); // untimed: a prefetcher resynchronises here
        const entry = times[m]!;
        for (let k = 0; k < blockSteps; k++) {
          const cpu = process.cpuUsage();
          const t = performance.now();
          trainer.step();
          entry.ms.push(performance.now() - t);
          const used = process.cpuUsage(cpu);
          entry.cpu += (used.user + used.system) / 1000;
        }
      }
    }
    const result: OverlapResult['modes'] = {};
    for (const m of modes) {
      const t = times[m]!;
      const p = prefetchers[m];
      result[m] = {
        medianMs: median(t.ms),
        stepsMs: t.ms.map((x) => Math.round(x * 10) / 10),
        cpuMsPerStep: t.cpu / t.ms.length,
        ...(p ? { ...p.stats } : {}),
      };
    }
    const base = result.ready?.medianMs ?? Number.NaN;
    const byMode: OverlapResult['slowdownPctByMode'] = {};
    for (const m of modes) byMode[m] = 100 * (result[m]!.medianMs / base - 1);
    return {
      encoder: options.encoder,
      batchSize,
      views,
      augment,
      rounds,
      blockSteps,
      augmentMsPerBatch: median(augmentMs),
      modes: result,
      slowdownPct: byMode['ahead-nice'] ?? byMode.ahead ?? Number.NaN,
      slowdownPctByMode: byMode,
    };
  } finally {
    trainer.dispose();
    for (const p of Object.values(prefetchers)) await p.close();
  }
}
