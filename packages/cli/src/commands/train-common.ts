/**
 * Flags shared by `supcon train` and `supcon demo`: a preset, an optional JSON config file (a partial
 * RunSpec), then individual flags, applied in that order. Also the progress line, and the flags and
 * loading shared by the commands that read a trained run (`linear`, `eval`, `embed`).
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  checkSpecShape,
  DEFAULT_FOLDER_VALIDATION,
  ENCODERS,
  type KnnResult,
  knnMonitorSettings,
  loadRunEncoder,
  PRECISIONS,
  PRESETS,
  type PrefetchSummary,
  type Preset,
  presetSpec,
  type RunOptions,
  type RunResult,
  type RunSpec,
  readResumableSpec,
  resolveRunSpec,
  specDifferences,
} from '@supcon/node';
import {
  DECAYS,
  type EpochRecord,
  InvalidArgumentError,
  METHODS,
  OPTIMIZERS,
  resolveConfig,
  type StepRecord,
  type Trainer,
} from 'supcon';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, libraryErrorsAsCliErrors } from '../command.js';
import type { FlagSpec, FlagValues } from '../flags.js';

export const trainFlagSpecs: Record<string, FlagSpec> = {
  preset: { kind: 'string', default: 'fashion-quick', choices: PRESETS },
  config: { kind: 'string' },
  method: { kind: 'string', choices: METHODS },
  dataset: { kind: 'string' },
  epochs: { kind: 'int', min: 1 },
  'batch-size': { kind: 'int', min: 2 },
  views: { kind: 'int', min: 1 },
  lr: { kind: 'number', min: 0 },
  optimizer: { kind: 'string', choices: OPTIMIZERS },
  momentum: { kind: 'number', min: 0 },
  nesterov: { kind: 'boolean' },
  'weight-decay': { kind: 'number', min: 0 },
  temperature: { kind: 'number' },
  'base-temperature': { kind: 'number' },
  'warmup-epochs': { kind: 'number', min: 0 },
  decay: { kind: 'string', choices: DECAYS },
  'min-lr': { kind: 'number', min: 0 },
  'scale-lr': { kind: 'boolean' },
  encoder: { kind: 'string', choices: ENCODERS },
  width: { kind: 'int', min: 1 },
  'stem-stride': { kind: 'int', min: 1 },
  stem: { kind: 'string', choices: ['cifar', 'imagenet'] },
  'width-multiplier': { kind: 'number' },
  'queue-size': { kind: 'int', min: 0 },
  chunk: { kind: 'int', min: 0 },
  projection: { kind: 'string', choices: ['mlp', 'linear'] },
  augment: { kind: 'string', choices: ['light', 'supcon', 'none'] },
  validation: { kind: 'number', min: 0 },
  limit: { kind: 'int', min: 0 },
  size: { kind: 'int', min: 1 },
  grayscale: { kind: 'boolean' },
  seed: { kind: 'int' },
  'checkpoint-every': { kind: 'int', min: 1 },
  'knn-k': { kind: 'int', min: 0 },
  'probe-epochs': { kind: 'int', min: 1 },
  backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
  precision: { kind: 'string', choices: PRECISIONS },
  quiet: { kind: 'boolean' },
  'no-prefetch': { kind: 'boolean' },
  'prefetch-depth': { kind: 'int', min: 1 },
};

export const trainFlagHelp = [
  '  --preset P            fashion-quick (default: small ResNet, 10 epochs, the demo) | cifar-paper (the paper recipe)',
  '  --config FILE         JSON with any part of the run spec ({"train": {...}, "model": {...}, "data": {...}});',
  '                        every key at every level is checked (a misspelt one is refused with its path)',
  '  --method M            supcon | simclr | ce (default supcon)',
  '  --dataset D           fashion-mnist (default) | mnist | cifar10 | cifar100 | NAME:PATH',
  '  --epochs N --batch-size N --views N',
  '  --lr X --optimizer sgd|lars|adam --momentum X --nesterov --weight-decay X',
  '  --temperature X       τ (0.1 supcon, 0.5 simclr); --base-temperature X (default = τ)',
  '  --warmup-epochs X --decay cosine|step|constant --min-lr X --scale-lr (lr·batch/256)',
  `  --encoder ${ENCODERS.join('|')} --width N --stem-stride 1|2 --projection mlp|linear`,
  '  --stem cifar|imagenet --width-multiplier X   (resnet18/34/50: 3×3 stem or 7×7 + max-pool; channel scale)',
  '  --queue-size N        supcon/simclr: also contrast against N embeddings of earlier steps (memory queue)',
  '  --chunk N             gradient caching: encode N images at a time (large batches in small memory; 0 = off)',
  '  --augment light|supcon|none --limit N (first N train samples)',
  '  --validation N        held out of train for the kNN monitor and the probe: a count, or a fraction < 1',
  '                        (default 5000; folder: datasets 0.1, every class of 2+ images giving at least 1)',
  '  --size N --grayscale  folder: datasets only: resize images to N×N (default 32), decode to one channel',
  '  --seed N --checkpoint-every STEPS --probe-epochs N',
  '  --knn-k K             kNN monitor after each epoch: validation top-1 with K neighbours (default 200, 0 = off)',
  '  --backend auto|native|cpu (default auto: native oneDNN engine when it loads; on cpu a convolutional',
  '                        encoder takes minutes a step: a warning says so, --encoder mlp is the quick try)',
  '  --precision fp32|bf16 compute precision of the native engine (default fp32; bf16: mixed precision where',
  '                        the CPU supports it, else one warning and fp32). Stored in config.json; the',
  '                        precision in effect is `precision` in the --json output and summary.json',
  '  --quiet               no progress line and no line per epoch',
  '  --no-prefetch         augment on the training thread instead of in a worker thread ahead of the step',
  '                        (default: a worker prepares the next batches whenever views are augmented;',
  '                        the results are identical either way)',
  '  --prefetch-depth N    batches the worker keeps ready ahead (default 3)',
  '',
  'Ctrl-C (SIGINT) or SIGTERM stops after the current step, writes the checkpoint and exits with code',
  '130; continue with --resume (same --out). A second Ctrl-C exits at once.',
].join('\n');

/** `RunOptions` from the shared flags: prefetching and clean stops on signals. */
export function runOptionsFromFlags(flags: FlagValues): RunOptions {
  const options: RunOptions = { handleSignals: true };
  if (flags['no-prefetch'] === true) options.prefetch = false;
  const depth = flags['prefetch-depth'] as number | undefined;
  if (depth !== undefined) {
    if (flags['no-prefetch'] === true)
      throw new CliError(
        'Flags `--prefetch-depth` and `--no-prefetch` exclude each other: pass one of them.',
      );
    options.prefetchDepth = depth;
  }
  return options;
}

/** The prefetch line of a run's text summary. */
export function prefetchLine(p: PrefetchSummary): string {
  if (!p.enabled) return 'views augmented on the training thread (--no-prefetch)';
  const line = `views: ${p.prefetched} batches prepared ahead by the worker, ${p.inline} inline, ${p.waitMs.toFixed(0)} ms waited for the worker`;
  return p.workerError ? `${line} (the worker failed: ${p.workerError})` : line;
}

/** What the CLI prints when a run was stopped by a signal; the exit code is 130. */
export function interruptedMessage(
  out: string,
  iteration: number,
  command: 'train' | 'demo' = 'train',
): string {
  return `Interrupted after step ${iteration}; the checkpoint is written. Continue with: supcon ${command} --out ${out} --resume`;
}

/** What `train`/`demo` print for `--resume` of a run that has trained all its epochs. */
export function finishedMessage(
  out: string,
  epochs: number,
  iterations: number,
  command: 'train' | 'demo',
): string {
  return (
    `Run ${out} is already finished (${epochs} epoch${epochs === 1 ? '' : 's'}, ${iterations} steps); nothing was trained. ` +
    `To train it longer: supcon ${command} --out ${out} --resume --epochs ${epochs + 1} (or more; the schedule is recomputed over the new total).`
  );
}

/**
 * The spec to continue for `--resume --out DIR`: the one stored in DIR (refused without a checkpoint),
 * and `epochs` when `--epochs` asks for more than recorded. Any other flag or config file that would
 * change the stored run is refused with the differences; repeating the recorded values is fine (that
 * is how `supcon sweep` resumes its runs, with every train flag).
 */
export function resumeSpec(
  argv: string[],
  flags: FlagValues,
  out: string,
): { spec: RunSpec; epochs?: number } {
  const stored = resolveRunSpec(readResumableSpec(out));
  const given = (name: string) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  // A preset describes a whole run: it matches when the run it gives (with the flags) is the stored one.
  const requested = given('preset') ? specFromFlags(flags) : specFromFlags(flags, stored);
  // Extensions are the run's history, not a setting a flag can ask for.
  const { extensions: _stored, ...recorded } = stored;
  const { extensions: _requested, ...asked } = requested;
  const differences = specDifferences(recorded, asked).filter((d) => !d.startsWith('train.epochs:'));
  if (differences.length > 0)
    throw new CliError(
      `Run folder \`${out}\` was trained with other settings than these flags ask for (${differences.join('; ')}); ` +
        `\`--resume\` continues the run as its config.json records it (only \`--epochs N\` may lengthen it): drop those flags, or start a new run with another --out.`,
    );
  const epochs = requested.train.epochs;
  if (epochs < stored.train.epochs)
    throw new CliError(
      `Invalid value for \`--epochs\` with \`--resume\`. Expected at least ${stored.train.epochs}, the epochs recorded in ${out}/config.json (a run can be lengthened, not shortened). Received: ${epochs}.`,
    );
  return epochs > stored.train.epochs ? { spec: stored, epochs } : { spec: stored };
}

/** The kNN monitor's k when neither a config file nor `--knn-k` sets it (0 turns it off). */
const DEFAULT_MONITOR_K = 200;

/**
 * preset → config file → flags. With `base` (the stored spec of a run being resumed) the config file
 * and flags apply to it instead of a preset, so what they change can be compared with the run.
 */
export function specFromFlags(flags: FlagValues, base?: RunSpec): RunSpec {
  const spec = base ? structuredClone(base) : presetSpec(flags['preset'] as Preset);
  if (!base) spec.knnK = DEFAULT_MONITOR_K; // the per-epoch line and the --json summary show it
  const file = flags['config'] as string | undefined;
  let configValidation = false;
  if (file !== undefined) {
    if (!existsSync(file)) throw new CliError(`Config file \`${file}\` does not exist.`);
    let partial: Partial<{ [K in keyof RunSpec]: Partial<RunSpec[K]> }>;
    try {
      partial = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new CliError(`Config file \`${file}\` is not valid JSON: ${(error as Error).message}.`);
    }
    try {
      checkSpecShape(partial, { partial: true });
    } catch (error) {
      if (error instanceof InvalidArgumentError)
        throw new CliError(`Config file \`${file}\`: ${error.message}`);
      throw error;
    }
    if ((partial as { extensions?: unknown }).extensions !== undefined)
      throw new CliError(
        `Config file \`${file}\` holds \`extensions\`: the record of how a run was lengthened with \`--resume --epochs\`, which a new run cannot replay; remove the key (or continue that run with \`supcon train --out DIR --resume\`).`,
      );
    Object.assign(spec.model, partial.model ?? {});
    Object.assign(spec.data, partial.data ?? {});
    configValidation = partial.data?.validation !== undefined;
    Object.assign(spec.train, partial.train ?? {});
    for (const k of ['checkpointEvery', 'knnK', 'probeEpochs'] as const)
      if (partial[k] !== undefined) spec[k] = partial[k] as number;
  }
  const f = <T>(name: string): T | undefined => flags[name] as T | undefined;
  const t = spec.train;
  const method = f<RunSpec['train']['method']>('method');
  const train: Partial<RunSpec['train']> = { ...t };
  if (method !== undefined && method !== t.method) {
    // Method-specific defaults (views, temperature) follow the method unless given.
    delete train.views;
    delete train.temperature;
    delete train.baseTemperature;
    train.method = method;
  }
  const set = <K extends keyof RunSpec['train']>(key: K, flag: string) => {
    const v = f<RunSpec['train'][K]>(flag);
    if (v !== undefined) train[key] = v;
  };
  set('epochs', 'epochs');
  set('batchSize', 'batch-size');
  set('views', 'views');
  set('lr', 'lr');
  set('temperature', 'temperature');
  set('baseTemperature', 'base-temperature');
  set('warmupEpochs', 'warmup-epochs');
  set('decay', 'decay');
  set('minLr', 'min-lr');
  set('seed', 'seed');
  set('queueSize', 'queue-size');
  set('chunkRows', 'chunk');
  if (flags['scale-lr']) train.scaleWithBatch = true;
  const tau = f<number>('temperature');
  if (tau !== undefined && f('base-temperature') === undefined) train.baseTemperature = tau;
  const optimizer = { ...t.optimizer };
  if (f('optimizer') !== undefined) optimizer.kind = f('optimizer')!;
  if (f('momentum') !== undefined) optimizer.momentum = f('momentum')!;
  if (f('weight-decay') !== undefined) optimizer.weightDecay = f('weight-decay')!;
  if (flags['nesterov']) optimizer.nesterov = true;
  train.optimizer = optimizer;
  spec.train = resolveConfig(train);
  if (f('encoder') !== undefined) spec.model.encoder = f('encoder')!;
  if (f('width') !== undefined) spec.model.width = f('width')!;
  if (f('stem-stride') !== undefined) {
    const s = f<number>('stem-stride');
    if (s !== 1 && s !== 2)
      throw new CliError(`Invalid value for \`--stem-stride\`. Expected 1 or 2. Received: ${s}.`);
    spec.model.stemStride = s;
  }
  if (f('stem') !== undefined) spec.model.stem = f('stem')!;
  if (f('width-multiplier') !== undefined) spec.model.widthMultiplier = f('width-multiplier')!;
  if (f('projection') !== undefined) spec.model.projection = f('projection')!;
  if (f('dataset') !== undefined) spec.data.dataset = f('dataset')!;
  if (f('augment') !== undefined) spec.data.augment = f('augment')!;
  if (f('validation') !== undefined) spec.data.validation = f('validation')!;
  // A folder's size is unknown here, so its default is a fraction (docs/data.md#validation-split).
  else if (!base && !configValidation && spec.data.dataset.startsWith('folder:'))
    spec.data.validation = DEFAULT_FOLDER_VALIDATION;
  if (f('limit') !== undefined) spec.data.limit = f('limit')!;
  if (f('size') !== undefined) spec.data.size = f('size')!;
  if (flags['grayscale'] === true) spec.data.grayscale = true;
  if (f('checkpoint-every') !== undefined) spec.checkpointEvery = f('checkpoint-every')!;
  if (f('knn-k') !== undefined) spec.knnK = f('knn-k')!;
  if (f('probe-epochs') !== undefined) spec.probeEpochs = f('probe-epochs')!;
  if (f('precision') !== undefined) spec.precision = f('precision')!;
  return resolveRunSpec(spec);
}

/** A progress line on stderr: epoch, step, loss, learning rate, images per second, time left. */
export function progressPrinter(quiet: boolean): (r: StepRecord, trainer: Trainer) => void {
  const tty = process.stderr.isTTY === true;
  let smoothed = 0;
  return (r, trainer) => {
    if (quiet) return;
    smoothed = smoothed === 0 ? r.imagesPerSecond : 0.9 * smoothed + 0.1 * r.imagesPerSecond;
    const left = trainer.totalIterations - (r.iteration + 1);
    const eta = (left * trainer.config.batchSize) / Math.max(smoothed, 1e-9);
    const width = 20;
    const done = Math.round((width * (r.iteration + 1)) / trainer.totalIterations);
    const bar = `[${'#'.repeat(done)}${'.'.repeat(width - done)}]`;
    const line =
      `${bar} epoch ${r.epoch + 1}/${trainer.config.epochs} step ${r.step + 1}/${trainer.stepsPerEpoch}` +
      ` loss ${r.loss.toFixed(4)} lr ${r.lr.toPrecision(3)} ${smoothed.toFixed(0)} img/s left ${formatTime(eta)}`;
    if (tty) process.stderr.write(`\r${line}\x1b[K`);
    else if ((r.iteration + 1) % 20 === 0 || left === 0) process.stderr.write(`${line}\n`);
    if (tty && left === 0) process.stderr.write('\n');
  };
}

/**
 * The line `train` and `demo` print after each epoch: `epoch 2/10: loss 4.1234, kNN validation top-1
 * 81.20%, train accuracy 85.10% (31 s)` (kNN with the monitor on, train accuracy for ce).
 */
export function epochLine(r: EpochRecord & { knnAccuracy?: number }, epochs: number): string {
  const parts = [`loss ${r.loss.toFixed(4)}`];
  if (r.knnAccuracy !== undefined) parts.push(`kNN validation top-1 ${(100 * r.knnAccuracy).toFixed(2)}%`);
  if (r.accuracy !== undefined) parts.push(`train accuracy ${(100 * r.accuracy).toFixed(2)}%`);
  return `epoch ${r.epoch + 1}/${epochs}: ${parts.join(', ')} (${r.seconds.toFixed(0)} s)`;
}

/**
 * The warning for a convolutional encoder on the pure-JavaScript `cpu` backend (asked for, or what
 * `auto` fell back to), whose convolutions are tens of times slower than the native engine's; empty
 * when it does not apply.
 */
export function cpuBackendWarning(backend: string, encoder: string): string {
  if (backend !== 'cpu' || encoder === 'mlp') return '';
  return (
    `supcon: warning: the \`cpu\` backend runs the convolutions of ${encoder} in plain JavaScript: a training ` +
    'step takes minutes. For a quick try pass `--encoder mlp`; for real runs use the native engine (`--backend native`).'
  );
}

/**
 * The end of a run for `--json`: `epochs` (planned), `epochsDone`, and from the last finished epoch
 * its mean `loss`, the kNN monitor's validation top-1 with its settings (`knn`, when on) and, for
 * ce, `trainAccuracy` (mean training top-1 of that epoch's steps).
 */
export function finalMetrics(result: RunResult): {
  epochs: number;
  epochsDone: number;
  loss?: number;
  knn?: { k: number; bank: number; temperature: number; validation: { top1: number; images: number } };
  trainAccuracy?: number;
} {
  const { trainer, lastEpoch, spec, data } = result;
  const out: ReturnType<typeof finalMetrics> = {
    epochs: trainer.config.epochs,
    epochsDone: Math.floor(trainer.position.iteration / trainer.stepsPerEpoch),
  };
  if (!lastEpoch) return out;
  out.loss = lastEpoch.loss;
  if (lastEpoch.knnAccuracy !== undefined) {
    const { images, ...settings } = knnMonitorSettings(data, spec.knnK);
    out.knn = { ...settings, validation: { top1: lastEpoch.knnAccuracy, images } };
  }
  if (lastEpoch.accuracy !== undefined) out.trainAccuracy = lastEpoch.accuracy;
  return out;
}

/** A kNN result's test top-1 with its settings, e.g. `71.36% (k 200, bank 10000)`. */
export function knnText(knn: KnnResult, split: 'test' | 'validation' = 'test'): string {
  const r = knn[split];
  const lowered = knn.requestedK !== undefined ? `, lowered from ${knn.requestedK}` : '';
  return r ? `${(100 * r.top1).toFixed(2)}% (k ${knn.k}${lowered}, bank ${knn.bank})` : 'not measured';
}

export function formatTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The library's one-sentence errors as CLI errors (no stack; exit code by command.ts's policy). */
export const argumentErrorsAsCliErrors = libraryErrorsAsCliErrors;

/** Flags of the commands that read a trained run (`linear`, `eval`, `embed`). */
export const runReaderFlagSpecs: Record<string, FlagSpec> = {
  run: { kind: 'string' },
  backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
};

export const runReaderFlagHelp = [
  '  --run DIR          the run folder written by `supcon train` (required)',
  '  --backend B        auto (default: native oneDNN engine when it loads) | native | cpu',
].join('\n');

/**
 * For `linear`, `eval`, `embed`: requires `--run`, selects the backend, and loads the run's spec,
 * data and frozen encoder (its checkpoint's weights); problems become one-sentence CLI errors.
 */
export async function openRun(
  flags: FlagValues,
): Promise<{ run: string } & Awaited<ReturnType<typeof loadRunEncoder>>> {
  const run = flags['run'] as string | undefined;
  if (run === undefined)
    throw new CliError('Flag `--run DIR` is required: the run folder written by `supcon train`.');
  await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
  return { run, ...(await argumentErrorsAsCliErrors(() => loadRunEncoder(run))) };
}
