/**
 * A training run on disk in one process (the run folder's format: run-folder.ts; the loop shared with
 * the MPI ranks: run-loop.ts). `resume: true` continues from the checkpoint exactly where an
 * uninterrupted run would be; with `epochs` it also lengthens the run (the schedule recomputed over
 * the new total, recorded in config.json's `extensions`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { check, type Network, type StepRecord, Trainer } from 'supcon';
import {
  type Dataset,
  type ImageSet,
  loadDataset,
  PrefetchingViews,
  splitValidation,
  subset,
} from '../data/index.js';
import { loadCheckpoint } from './checkpoint.js';
import { processCommandLine, trainAugmenter } from './run-common.js';
import { lastEpochRecord, type MetricsEpochRecord, runFiles } from './run-folder.js';
import { openRunFolder, runLoop, secondsBeforeResume } from './run-loop.js';

export { knnMonitorSettings } from './run-common.js';
export { lastEpochRecord, runFiles } from './run-folder.js';

import { buildEncoder, buildHead, type RunPrecision, type RunSpec } from './spec.js';
import { resolveRunSpec } from './spec-check.js';
import { upgradeRunSpec } from './spec-legacy.js';

export interface RunHooks {
  onStep?: (r: StepRecord, trainer: Trainer) => void;
  onEpoch?: (r: MetricsEpochRecord) => void;
  /** Stop (after writing a checkpoint) when this returns true; for tests and time budgets. */
  stop?: (trainer: Trainer) => boolean;
}

export interface RunOptions {
  /** Continue the run in the folder from its checkpoint (refused when there is none). */
  resume?: boolean;
  /**
   * With `resume`: train to this many epochs, at least the recorded ones. More than recorded extends
   * the run: from the checkpoint's iteration on, the learning-rate schedule (warm-up, decay) is the
   * one of a run planned for `epochs` epochs; config.json gets the new `train.epochs` and an entry in
   * `extensions`, so it says exactly what trained.
   */
  epochs?: number;
  /** Use this dataset instead of loading `spec.data.dataset` (tests, synthetic data). */
  dataset?: Dataset;
  /**
   * Augment the next batches in a worker thread while the step runs (`PrefetchingViews`). Default:
   * on whenever the training views are augmented (`data.augment` other than `none`, or
   * `data.randomErasing` set). The result is identical either way: views are seeded per sample.
   */
  prefetch?: boolean;
  /** Batches the worker keeps ready ahead (default 3). */
  prefetchDepth?: number;
  /**
   * Niceness of the worker thread (default 19: the step's threads come first; on this 2-core machine a
   * normal-priority worker slowed a SupCon-augmented step by 6–10 %, a niced one by 3 %; see docs/data.md).
   */
  prefetchNice?: number;
  /**
   * Sets the engine's compute precision to the spec's (the stored one on resume) before the first
   * step and returns the precision in effect, e.g. `@supcon/native`'s `setPrecision`. Required for
   * `precision: 'bf16'`; without it a run is fp32.
   */
  applyPrecision?: (requested: RunPrecision) => RunPrecision | Promise<RunPrecision>;
  /**
   * Stop cleanly at the next step boundary on SIGINT or SIGTERM (checkpoint written, worker closed;
   * `interrupted` is then true). A second signal kills the process as usual. For the CLI.
   */
  handleSignals?: boolean;
  /** The command line recorded in summary.json (default: this process's, `supcon …` from the CLI). */
  commandLine?: string[];
}

/** How the views were made: ahead in the worker (`prefetched`), on the training thread (`inline`). */
export interface PrefetchSummary {
  enabled: boolean;
  depth: number;
  prefetched: number;
  inline: number;
  /** Total time the training loop waited for the worker (ms). */
  waitMs: number;
  /** Why the worker died, if it did (the run went on augmenting inline). */
  workerError?: string;
}

export interface RunResult {
  /** The spec that trained (on resume: the stored one, with any extension), as config.json holds it. */
  spec: RunSpec;
  trainer: Trainer;
  data: PreparedData;
  resumedFrom: number;
  prefetch: PrefetchSummary;
  /** The run stopped early on SIGINT/SIGTERM (only with `handleSignals`). */
  interrupted: boolean;
  /** The compute precision in effect (`spec.precision` unless the engine could not run it). */
  precision: RunPrecision;
  /** Resumed a run that had already trained all its epochs: nothing was trained. */
  alreadyFinished: boolean;
  /**
   * Seconds the run has trained in all, over every process that trained it (run-loop.ts): a run
   * resumed after a kill counts the killed process's time up to its last checkpoint too.
   */
  trainSeconds: number;
  /** The last finished epoch (from metrics.jsonl, so also after a resume); undefined before one. */
  lastEpoch: MetricsEpochRecord | undefined;
}

export interface PreparedData {
  dataset: Dataset;
  train: ImageSet;
  validation: ImageSet;
}

export async function prepareData(spec: RunSpec, dataset?: Dataset): Promise<PreparedData> {
  const { size, grayscale } = spec.data;
  const ds =
    dataset ??
    (await loadDataset(spec.data.dataset, {
      ...(size !== undefined ? { imageSize: size } : {}),
      ...(grayscale !== undefined ? { channels: grayscale ? 1 : 3 } : {}),
    }));
  const { train, validation } = splitValidation(ds.train, {
    size: spec.data.validation,
    seed: spec.train.seed,
  });
  const limited =
    spec.data.limit > 0 && spec.data.limit < train.count
      ? subset(
          train,
          Int32Array.from({ length: spec.data.limit }, (_, i) => i),
        )
      : train;
  return { dataset: ds, train: limited, validation };
}

export function readSpec(runDir: string): RunSpec {
  const file = runFiles(runDir).config;
  check(existsSync(file), 'run', `a run folder with config.json`, runDir);
  // A config.json in the older flat model format is read upgraded (spec-legacy.ts), not rewritten.
  return upgradeRunSpec(JSON.parse(readFileSync(file, 'utf8')));
}

/**
 * The stored spec of a run that `--resume` can continue: one with a checkpoint (InvalidArgumentError
 * naming `out` otherwise: there is nothing to continue, and training from scratch instead would be
 * a silent surprise).
 */
export function readResumableSpec(runDir: string): RunSpec {
  const files = runFiles(runDir);
  check(
    existsSync(files.checkpoint),
    'out',
    existsSync(files.config)
      ? 'a run folder holding checkpoint.bin to continue (this run stopped before its first checkpoint: start it again without --resume)'
      : 'a run folder holding checkpoint.bin to continue (nothing was trained here: start a run without --resume)',
    runDir,
  );
  return readSpec(runDir);
}

/**
 * `spec` lengthened to `epochs` at `iteration`: `train.epochs` set and the extension recorded. The
 * schedule is a function of the total iterations, so from `iteration` on it is the one of a run
 * planned for `epochs` epochs (a cosine rises back to its value there, like a warm restart).
 */
export function extendSpec(spec: RunSpec, epochs: number, iteration: number): RunSpec {
  const recorded = spec.train.epochs;
  check(
    Number.isInteger(epochs) && epochs >= recorded,
    'epochs',
    `an integer >= ${recorded}, the epochs recorded in config.json (a run can be extended, not shortened)`,
    epochs,
  );
  if (epochs === recorded) return spec;
  const extension = { atIteration: iteration, fromEpochs: recorded, toEpochs: epochs };
  return resolveRunSpec({
    ...spec,
    train: { ...spec.train, epochs },
    extensions: [...(spec.extensions ?? []), extension],
  });
}

/** Builds the encoder and head of a run and, if it has a checkpoint, loads their weights. */
export function buildNetworks(spec: RunSpec, data: PreparedData): { encoder: Network; head: Network } {
  const shape: [number, number, number] = [data.train.height, data.train.width, data.train.channels];
  const encoder = buildEncoder(spec.model, shape, spec.train.seed);
  const head = buildHead(spec, encoder.outputDim, data.dataset.classes.length);
  return { encoder, head };
}

export async function trainRun(
  spec: RunSpec,
  runDir: string,
  options: RunOptions = {},
  hooks: RunHooks = {},
): Promise<RunResult> {
  const startedAt = performance.now();
  const files = runFiles(runDir);
  if (options.resume) {
    spec = readResumableSpec(runDir);
    if (options.epochs !== undefined) extendSpec(spec, options.epochs, 0); // refuse before loading anything
  } else {
    check(
      options.epochs === undefined,
      'epochs',
      'no value without resume (set spec.train.epochs)',
      options.epochs,
    );
    check(
      !existsSync(files.checkpoint),
      'out',
      'a folder without a previous run (or pass --resume to continue it)',
      runDir,
    );
    spec = resolveRunSpec(spec);
  }
  const requested = spec.precision ?? 'fp32';
  check(
    requested === 'fp32' || options.applyPrecision !== undefined,
    'precision',
    "'fp32' unless RunOptions.applyPrecision sets the engine's precision (the CLI passes the native engine's setPrecision)",
    requested,
  );
  const precision = options.applyPrecision ? await options.applyPrecision(requested) : requested;
  // Data and networks first: a run that cannot start leaves no run folder behind.
  const data = await prepareData(spec, options.dataset);
  const { encoder, head } = buildNetworks(spec, data);
  // The trainer's schedule is fixed at construction: an extension is applied before it is built.
  const loaded = options.resume ? loadCheckpoint(files.checkpoint) : undefined;
  const saved = loaded?.state;
  // Read before openRunFolder records this invocation in summary.json.
  const secondsBefore = saved ? secondsBeforeResume(runDir, saved.iteration, loaded?.meta) : 0;
  const planned = spec.train.epochs;
  if (saved && options.epochs !== undefined) spec = extendSpec(spec, options.epochs, saved.iteration);
  openRunFolder(runDir, {
    spec,
    writeSpec: !saved || spec.train.epochs !== planned,
    commandLine: options.commandLine ?? processCommandLine(),
    ...(saved ? { resumedFrom: saved.iteration } : {}),
  });
  const { train } = data;
  const { steps, augmenter } = trainAugmenter(spec, data);
  const o = augmenter.output;
  const depth = options.prefetchDepth ?? 3;
  const prefetch =
    options.prefetch ?? (spec.data.augment !== 'none' || spec.data.randomErasing !== undefined);
  const ahead = prefetch
    ? new PrefetchingViews(train, {
        steps: steps.train,
        batchSize: spec.train.batchSize,
        views: spec.train.views,
        seed: spec.train.seed,
        ...(spec.train.sampler ? { sampler: spec.train.sampler } : {}),
        ...(spec.train.samplesPerClass ? { samplesPerClass: spec.train.samplesPerClass } : {}),
        depth,
        nice: options.prefetchNice ?? 19,
      })
    : undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  if (options.handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    const trainer = new Trainer({
      config: spec.train,
      encoder,
      head,
      data: train,
      makeViews: ahead ? ahead.makeViews : (images, count, opts) => augmenter.apply(images, count, opts),
      viewShape: [o.height, o.width, o.channels],
      classes: data.dataset.classes.length,
    });
    let resumedFrom = 0;
    if (saved) {
      trainer.restore(saved);
      resumedFrom = saved.iteration;
    }
    const { alreadyFinished, trainSeconds } = await runLoop({
      trainer,
      spec,
      runDir,
      secondsBefore,
      startedAt,
      data,
      evalSteps: steps.eval,
      writes: true,
      stop: () => interrupted || (hooks.stop?.(trainer) ?? false),
      yieldBetweenSteps: options.handleSignals === true,
      onStep: (r) => hooks.onStep?.(r, trainer),
      ...(hooks.onEpoch ? { onEpoch: hooks.onEpoch } : {}),
    });
    const stats = ahead?.stats ?? { prefetched: 0, inline: 0, waitMs: 0 };
    return {
      spec,
      trainer,
      data,
      resumedFrom,
      alreadyFinished,
      trainSeconds,
      lastEpoch: lastEpochRecord(files.metrics),
      prefetch: {
        enabled: ahead !== undefined,
        depth: ahead ? depth : 0,
        ...stats,
        ...(ahead?.workerError ? { workerError: ahead.workerError.message } : {}),
      },
      interrupted,
      precision,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await ahead?.close();
  }
}
