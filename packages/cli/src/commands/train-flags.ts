/**
 * The training flags, declared once. Each row says how the flag parses (kind, range, choices), how
 * `--help` shows it, which run-spec field it sets, whether `supcon sweep --vary` may vary it and
 * whether it applies over several processes. `supcon train`, `demo`, `train-distributed` and `sweep`
 * derive their flag specs, help, spec patching and sweep variables from this table alone.
 */
import {
  AUGMENTS,
  ENCODERS,
  FASHION_DEMO,
  type LegacyModelSpec,
  modelForMethod,
  PRECISIONS,
  PRESETS,
  patchModel,
  type RunOptions,
  type RunSpec,
} from '@supcon/node';
import { check, DECAYS, METHODS, OPTIMIZERS, SAMPLERS, type TrainConfig } from 'supcon';
import { BACKEND_CHOICES } from '../backend.js';
import { CliError } from '../command.js';
import type { FlagSpec, FlagValues } from '../flags.js';

/** The dotted path of a leaf (a string, number or boolean) of `T`: `train.optimizer.momentum`. */
type LeafPath<T, Prefix extends string = ''> = {
  [K in keyof T & string]-?: NonNullable<T[K]> extends string | number | boolean
    ? `${Prefix}${K}`
    : NonNullable<T[K]> extends readonly unknown[]
      ? never
      : LeafPath<NonNullable<T[K]>, `${Prefix}${K}.`>;
}[keyof T & string];

/** The model is set through `model` (its union has no fixed leaves). */
export type SpecPath = LeafPath<Omit<RunSpec, 'model'>>;

export interface TrainFlag extends FlagSpec {
  name: string;
  /** The value's placeholder in help (`N`, `X`); by default a flag with choices shows them (`a|b`). */
  arg?: string;
  /** Text right after the flag on its help line, e.g. `(lr·batch/256)`. */
  note?: string;
  /** The description, from column 24; further entries are continuation lines. */
  help?: string | readonly string[];
  /** Shown on the help line of the flag before it (after that line's description, if it has one). */
  sameLine?: true;
  /** The run-spec field the value sets; a boolean flag sets its field to true. */
  to?: SpecPath;
  /**
   * The model field the value sets, by its key in the flat model format (spec-legacy.ts's
   * `patchModel` maps it onto `{ encoder, head }`: `width` is a small ResNet's base channels).
   */
  model?: keyof LegacyModelSpec;
  /** `supcon sweep --vary NAME=…` may vary it. */
  sweep?: true;
  /**
   * Refused with several MPI ranks (`--processes N`, a launcher) and left out of
   * `train-distributed --help`; the value is why, for the refusal.
   */
  singleProcess?: string;
}

/** Why mixing is refused over several MPI ranks. */
const NO_RANK_HOLDS_THE_BATCH = 'a batch is mixed with a shuffle of the whole batch, which no rank holds';

export const TRAIN_FLAGS: readonly TrainFlag[] = [
  {
    name: 'preset',
    kind: 'string',
    default: 'fashion-quick',
    choices: PRESETS,
    arg: 'P',
    help: [
      "fashion-quick (train's default: small ResNet width 16, 10 epochs, the studies' recipe) |",
      `fashion-demo (demo's default: width ${FASHION_DEMO.width}, lr ${FASHION_DEMO.lr}, ${FASHION_DEMO.epochs} epochs) | cifar-paper (the paper recipe)`,
    ],
  },
  {
    name: 'config',
    kind: 'string',
    arg: 'FILE',
    help: [
      'JSON with any part of the run spec ({"train": {...}, "model": {...}, "data": {...}});',
      'every key at every level is checked (a misspelt one is refused with its path)',
    ],
  },
  {
    name: 'method',
    kind: 'string',
    choices: METHODS,
    arg: 'M',
    help: `${METHODS.join(' | ')} (default supcon)`,
    to: 'train.method',
    sweep: true,
  },
  {
    name: 'dataset',
    kind: 'string',
    arg: 'D',
    help: 'fashion-mnist (default) | mnist | cifar10 | cifar100 | NAME:PATH',
    to: 'data.dataset',
  },
  { name: 'epochs', kind: 'int', min: 1, arg: 'N', to: 'train.epochs', sweep: true },
  { name: 'batch-size', kind: 'int', min: 2, arg: 'N', sameLine: true, to: 'train.batchSize', sweep: true },
  { name: 'views', kind: 'int', min: 1, arg: 'N', sameLine: true, to: 'train.views', sweep: true },
  { name: 'lr', kind: 'number', min: 0, arg: 'X', to: 'train.lr', sweep: true },
  {
    name: 'optimizer',
    kind: 'string',
    choices: OPTIMIZERS,
    sameLine: true,
    to: 'train.optimizer.kind',
    sweep: true,
  },
  {
    name: 'momentum',
    kind: 'number',
    min: 0,
    arg: 'X',
    sameLine: true,
    to: 'train.optimizer.momentum',
    sweep: true,
  },
  { name: 'nesterov', kind: 'boolean', sameLine: true, to: 'train.optimizer.nesterov' },
  {
    name: 'weight-decay',
    kind: 'number',
    min: 0,
    arg: 'X',
    sameLine: true,
    to: 'train.optimizer.weightDecay',
    sweep: true,
  },
  {
    name: 'decoupled',
    kind: 'boolean',
    help: "adam: AdamW's decoupled weight decay (p·(1 − lr·λ)) instead of L2 in the gradient",
    to: 'train.optimizer.decoupled',
  },
  {
    name: 'clip-grad-norm',
    kind: 'number',
    min: 0,
    arg: 'X',
    help: 'clip the gradients of every step to global L2 norm X (as clip_grad_norm_; any optimiser)',
    to: 'train.optimizer.clipGradNorm',
    sweep: true,
  },
  {
    name: 'temperature',
    kind: 'number',
    arg: 'X',
    help: 'τ (0.1 supcon, 0.5 simclr)',
    to: 'train.temperature',
    sweep: true,
  },
  {
    name: 'base-temperature',
    kind: 'number',
    arg: 'X',
    note: '(default = τ)',
    sameLine: true,
    to: 'train.baseTemperature',
    sweep: true,
  },
  { name: 'warmup-epochs', kind: 'number', min: 0, arg: 'X', to: 'train.warmupEpochs', sweep: true },
  { name: 'decay', kind: 'string', choices: DECAYS, sameLine: true, to: 'train.decay', sweep: true },
  { name: 'min-lr', kind: 'number', min: 0, arg: 'X', sameLine: true, to: 'train.minLr' },
  { name: 'scale-lr', kind: 'boolean', note: '(lr·batch/256)', sameLine: true, to: 'train.scaleWithBatch' },
  { name: 'encoder', kind: 'string', choices: ENCODERS, model: 'encoder', sweep: true },
  { name: 'width', kind: 'int', min: 1, arg: 'N', sameLine: true, model: 'width', sweep: true },
  { name: 'stem-stride', kind: 'int', choices: [1, 2], sameLine: true, model: 'stemStride' },
  {
    name: 'projection',
    kind: 'string',
    choices: ['mlp', 'linear'],
    sameLine: true,
    model: 'projection',
    sweep: true,
  },
  { name: 'stem', kind: 'string', choices: ['cifar', 'imagenet'], model: 'stem' },
  {
    name: 'width-multiplier',
    kind: 'number',
    arg: 'X',
    // Two more spaces: the note is aligned as a column though the line is too long for column 24.
    note: '  (resnet18/34/50: 3×3 stem or 7×7 + max-pool; channel scale)',
    sameLine: true,
    model: 'widthMultiplier',
  },
  {
    name: 'label-smoothing',
    kind: 'number',
    min: 0,
    arg: 'E',
    help: 'ce: label smoothing ε in [0, 1) of the target, (1 − ε)·onehot + ε/classes (default 0)',
    to: 'train.labelSmoothing',
    sweep: true,
  },
  {
    name: 'mixup',
    kind: 'number',
    arg: 'A',
    help: [
      'ce: mixup: blend each batch and its targets with a shuffle of the batch, λ ~ Beta(A, A)',
      '(A > 0, e.g. 0.2; default off; with --label-smoothing each target is smoothed first)',
    ],
    to: 'train.mixupAlpha',
    sweep: true,
    singleProcess: NO_RANK_HOLDS_THE_BATCH,
  },
  {
    name: 'cutmix',
    kind: 'number',
    arg: 'A',
    help: [
      'ce: cutmix: paste a box of about (1 − λ) of the image from a shuffle of the batch,',
      'λ ~ Beta(A, A), then λ = 1 − box area (A > 0, e.g. 1; default off)',
    ],
    to: 'train.cutmixAlpha',
    sweep: true,
    singleProcess: NO_RANK_HOLDS_THE_BATCH,
  },
  {
    name: 'mix-prob',
    kind: 'number',
    arg: 'P',
    help: [
      'with --mixup or --cutmix: the probability that a batch is mixed (default 1); with both,',
      'a mixed batch is mixup or cutmix with probability ½ each',
    ],
    to: 'train.mixProb',
    sweep: true,
    singleProcess: NO_RANK_HOLDS_THE_BATCH,
  },
  {
    name: 'queue-size',
    kind: 'int',
    min: 0,
    arg: 'N',
    help: 'supcon/simclr: also contrast against N embeddings of earlier steps (memory queue)',
    to: 'train.queueSize',
  },
  {
    name: 'queue-momentum',
    kind: 'number',
    min: 0,
    arg: 'M',
    help: 'with --queue-size: fill the queue from a momentum encoder (EMA m; MoCo; e.g. 0.99)',
    to: 'train.queueMomentum',
  },
  {
    name: 'chunk',
    kind: 'int',
    min: 0,
    arg: 'N',
    help: 'gradient caching: encode N images at a time (large batches in small memory; 0 = off)',
    to: 'train.chunkRows',
  },
  {
    name: 'sampler',
    kind: 'string',
    choices: SAMPLERS,
    help: [
      'random (default) | balanced: every batch holds M images of each of batch/M classes',
      '(every anchor has positives); needs --samples-per-class M dividing the batch size',
    ],
    to: 'train.sampler',
    sweep: true,
  },
  {
    name: 'samples-per-class',
    kind: 'int',
    min: 1,
    arg: 'M',
    sameLine: true,
    to: 'train.samplesPerClass',
    sweep: true,
  },
  {
    name: 'joint-probe',
    kind: 'boolean',
    help: [
      'supcon/simclr: also train a linear probe on the detached encoder features in every step',
      '(encoder unchanged; kept in the checkpoint; `supcon linear --joint` and demo use it)',
    ],
    to: 'train.jointProbe',
    singleProcess: 'the data-parallel trainer has no joint probe yet (train it in one process)',
  },
  {
    name: 'sync-bn',
    kind: 'boolean',
    help: [
      "several MPI ranks: BatchNorm normalises with the global batch's statistics, not each",
      "rank's shard (SyncBatchNorm: 2 small all-reduces per BatchNorm layer and step);",
      'a no-op in one process (docs/distributed.md)',
    ],
    to: 'train.syncBatchNorm',
  },
  { name: 'augment', kind: 'string', choices: AUGMENTS, to: 'data.augment', sweep: true },
  {
    name: 'limit',
    kind: 'int',
    min: 0,
    arg: 'N',
    note: '(first N train samples)',
    sameLine: true,
    to: 'data.limit',
    sweep: true,
  },
  {
    name: 'randaugment-magnitude',
    kind: 'int',
    min: 0,
    arg: 'M',
    help: 'with --augment randaugment: magnitude bin 0–30 of each operation (default 9)',
    to: 'data.randAugmentMagnitude',
    sweep: true,
  },
  {
    name: 'randaugment-ops',
    kind: 'int',
    min: 1,
    arg: 'N',
    help: 'with --augment randaugment: operations per view (default 2)',
    to: 'data.randAugmentOps',
    sweep: true,
  },
  {
    name: 'random-erasing',
    kind: 'number',
    min: 0,
    arg: 'P',
    help: [
      'erase one random box of each training view with probability P (0 < P <= 1; default off;',
      'torchvision RandomErasing after normalisation: area 0.02–0.33, aspect 0.3–3.3, fill 0)',
    ],
    to: 'data.randomErasing',
  },
  {
    name: 'validation',
    kind: 'number',
    min: 0,
    arg: 'N',
    help: [
      'held out of train for the kNN monitor and the probe: a count, or a fraction < 1',
      '(default 5000; folder: datasets 0.1, every class of 2+ images giving at least 1)',
    ],
    to: 'data.validation',
  },
  { name: 'size', kind: 'int', min: 1, arg: 'N', to: 'data.size' },
  {
    name: 'grayscale',
    kind: 'boolean',
    sameLine: true,
    help: 'folder: datasets only: resize images to N×N (default 32), decode to one channel',
    to: 'data.grayscale',
  },
  { name: 'seed', kind: 'int', arg: 'N', to: 'train.seed', sweep: true },
  { name: 'checkpoint-every', kind: 'int', min: 1, arg: 'STEPS', sameLine: true, to: 'checkpointEvery' },
  { name: 'probe-epochs', kind: 'int', min: 1, arg: 'N', sameLine: true, to: 'probeEpochs' },
  {
    name: 'knn-k',
    kind: 'int',
    min: 0,
    arg: 'K',
    help: 'kNN monitor after each epoch: validation top-1 with K neighbours (default 200, 0 = off)',
    to: 'knnK',
  },
  {
    name: 'backend',
    kind: 'string',
    default: 'auto',
    choices: BACKEND_CHOICES,
    help: [
      '(default auto: native oneDNN engine when it loads; on cpu a convolutional',
      'encoder takes minutes a step: a warning says so, --encoder mlp is the quick try)',
    ],
  },
  {
    name: 'precision',
    kind: 'string',
    choices: PRECISIONS,
    help: [
      'compute precision of the native engine (default fp32; bf16: mixed precision where',
      'the CPU supports it, else one warning and fp32). Stored in config.json; the',
      'precision in effect is `precision` in the --json output and summary.json',
    ],
    to: 'precision',
    sweep: true,
  },
  { name: 'quiet', kind: 'boolean', help: 'no progress line and no line per epoch' },
  {
    name: 'no-prefetch',
    kind: 'boolean',
    help: [
      'augment on the training thread instead of in a worker thread ahead of the step',
      '(default: a worker prepares the next batches whenever views are augmented;',
      'the results are identical either way)',
    ],
    singleProcess: 'each rank augments its own shard on its training thread',
  },
  {
    name: 'prefetch-depth',
    kind: 'int',
    min: 1,
    arg: 'N',
    help: 'batches the worker keeps ready ahead (default 3)',
    singleProcess: 'each rank augments its own shard on its training thread',
  },
];

/** The parser's specs of every training flag. */
export const trainFlagSpecs: Record<string, FlagSpec> = Object.fromEntries(
  TRAIN_FLAGS.map(({ name, kind, default: value, min, choices }) => [
    name,
    {
      kind,
      ...(value !== undefined ? { default: value } : {}),
      ...(min !== undefined ? { min } : {}),
      ...(choices !== undefined ? { choices } : {}),
    },
  ]),
);

/** The flags `supcon sweep --vary` may vary, in table order. */
export const SWEEP_VARIABLES: readonly string[] = TRAIN_FLAGS.filter((f) => f.sweep).map((f) => f.name);

/** The flags refused with several MPI ranks (each rank augments its own shard). */
/** The refusal of the single-process flags among `given`, one sentence each; undefined when none. */
export function singleProcessRefusal(given: (name: string) => boolean): string | undefined {
  const refused = TRAIN_FLAGS.filter((f) => f.singleProcess !== undefined && given(f.name));
  if (refused.length === 0) return undefined;
  return refused
    .map((f) => `Flag \`--${f.name}\` does not apply with several MPI ranks: ${f.singleProcess}.`)
    .join(' ');
}

function usage(flag: TrainFlag): string {
  const arg = flag.arg ?? flag.choices?.join('|');
  return [`--${flag.name}`, arg, flag.note].filter((s) => s !== undefined).join(' ');
}

const lines = (help: TrainFlag['help']): readonly string[] =>
  help === undefined ? [] : typeof help === 'string' ? [help] : help;

/**
 * The help of the training flags: one line per row (with the rows marked `sameLine` after it), the
 * description from column 24, then what a signal does. `processes: 'many'` leaves out the flags
 * `train-distributed` refuses.
 */
export function trainFlagHelp(options: { processes?: 'one' | 'many' } = {}): string {
  const shown = TRAIN_FLAGS.filter((f) => options.processes !== 'many' || !f.singleProcess);
  const rows: TrainFlag[][] = [];
  for (const flag of shown) {
    if (flag.sameLine && rows.length > 0) rows.at(-1)!.push(flag);
    else rows.push([flag]);
  }
  const out: string[] = [];
  for (const row of rows) {
    const described = row.findIndex((f) => f.help !== undefined);
    if (described < 0) {
      out.push(`  ${row.map(usage).join(' ')}`);
      continue;
    }
    const [first = '', ...more] = lines(row[described]!.help);
    const head = row
      .slice(0, described + 1)
      .map(usage)
      .join(' ');
    const after = row.slice(described + 1).map(usage);
    out.push(`  ${head.padEnd(21)} ${[first, ...after].join('; ')}`);
    for (const line of more) out.push(`${' '.repeat(24)}${line}`);
  }
  out.push(
    '',
    'Ctrl-C (SIGINT) or SIGTERM stops after the current step, writes the checkpoint and exits with code',
    '130; continue with --resume (same --out). A second Ctrl-C exits at once.',
  );
  return out.join('\n');
}

function setAt(spec: RunSpec, path: SpecPath, value: string | number | boolean): void {
  const keys = path.split('.');
  let node = spec as unknown as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys.at(-1)!] = value;
}

/**
 * `spec` with the training flags in `flags` applied (not yet resolved: `resolveRunSpec` fills what a
 * new method leaves open and validates). A new `--method` first drops the method-specific values
 * (views, temperature, base temperature), so they follow the method unless given.
 */
export function applyTrainFlags(spec: RunSpec, flags: FlagValues): RunSpec {
  const patched = structuredClone(spec);
  const method = flags['method'];
  if (method !== undefined && method !== patched.train.method) {
    const train: Partial<TrainConfig> = patched.train;
    delete train.views;
    delete train.temperature;
    delete train.baseTemperature;
    delete train.labelSmoothing;
    delete train.mixupAlpha;
    delete train.cutmixAlpha;
    delete train.mixProb;
  }
  const model: Record<string, unknown> = {};
  for (const flag of TRAIN_FLAGS) {
    const value = flags[flag.name];
    if (value === undefined) continue;
    // A boolean flag switches its field on; `--nesterov=false` leaves the spec's value.
    if (flag.kind === 'boolean' && value !== true) continue;
    if (flag.to !== undefined) setAt(patched, flag.to, value);
    if (flag.model !== undefined) model[flag.model] = value;
  }
  // Another augmentation drops RandAugment's settings (a randaugment run's, resumed or from a config file).
  if (flags['augment'] !== undefined && flags['augment'] !== 'randaugment') {
    delete patched.data.randAugmentMagnitude;
    delete patched.data.randAugmentOps;
  }
  // The random sampler drops the balanced one's samples per class (a balanced run's, from a config file).
  if (flags['sampler'] === 'random') delete patched.train.samplesPerClass;
  // RandAugment's settings mean nothing to another augmentation: refused naming the flag.
  for (const name of ['randaugment-magnitude', 'randaugment-ops'])
    check(
      flags[name] === undefined || patched.data.augment === 'randaugment',
      `--${name}`,
      `it only with \`--augment randaugment\` (this run augments with ${patched.data.augment})`,
      flags[name],
    );
  check(
    flags['decoupled'] !== true || patched.train.optimizer.kind === 'adam',
    '--decoupled',
    `it only with \`--optimizer adam\` (AdamW; this run's optimiser is ${patched.train.optimizer.kind})`,
    true,
  );
  const clip = flags['clip-grad-norm'];
  check(
    clip === undefined || (clip as number) > 0,
    '--clip-grad-norm',
    'a global gradient norm > 0 (leave the flag out for no clipping)',
    clip,
  );
  const smoothing = flags['label-smoothing'];
  check(
    smoothing === undefined || ((smoothing as number) < 1 && patched.train.method === 'ce'),
    '--label-smoothing',
    `a number in [0, 1) with \`--method ce\` (this run's method is ${patched.train.method})`,
    smoothing,
  );
  for (const name of ['mixup', 'cutmix']) {
    const alpha = flags[name];
    check(
      alpha === undefined || (alpha as number) > 0,
      `--${name}`,
      `a Beta concentration α > 0 (leave the flag out for no ${name})`,
      alpha,
    );
    check(
      alpha === undefined || patched.train.method === 'ce',
      `--${name}`,
      `it only with \`--method ce\` (a mixed label defines no positives for ${patched.train.method})`,
      alpha,
    );
  }
  const mixProb = flags['mix-prob'];
  check(
    mixProb === undefined ||
      ((mixProb as number) > 0 &&
        (mixProb as number) <= 1 &&
        (patched.train.mixupAlpha !== undefined || patched.train.cutmixAlpha !== undefined)),
    '--mix-prob',
    'a probability in (0, 1] with `--mixup A` or `--cutmix A`',
    mixProb,
  );
  const keyMomentum = flags['queue-momentum'];
  check(
    keyMomentum === undefined || ((keyMomentum as number) < 1 && patched.train.queueSize > 0),
    '--queue-momentum',
    `a number in [0, 1) with \`--queue-size N\` > 0 (this run's queue size is ${patched.train.queueSize})`,
    keyMomentum,
  );
  const erasing = flags['random-erasing'];
  check(
    erasing === undefined || ((erasing as number) > 0 && (erasing as number) <= 1),
    '--random-erasing',
    'a probability in (0, 1] (leave the flag out for no erasing)',
    erasing,
  );
  const magnitude = flags['randaugment-magnitude'];
  check(
    magnitude === undefined || (magnitude as number) <= 30,
    '--randaugment-magnitude',
    'a magnitude bin from 0 to 30',
    magnitude,
  );
  // The head follows the method: the classifier for ce, a projection head otherwise.
  patched.model = modelForMethod(
    patchModel(patched.model, model as Partial<LegacyModelSpec>),
    patched.train.method,
  );
  return patched;
}

/** `RunOptions` from the flags: prefetching, and clean stops on signals. */
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
