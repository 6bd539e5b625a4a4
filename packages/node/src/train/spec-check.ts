/**
 * The run spec's schema, declared once: every key of every level with its type, so a config file is
 * checked all the way down (`{"model": {"encodr": "mlp"}}` is refused as `model.encodr`, not ignored),
 * and the resolution that makes the stored config.json exactly what trains (defaults filled in).
 * Also the field-by-field difference of two specs (sweeps refuse to reuse a run trained differently).
 */
import {
  check,
  checkModelSpec,
  DECAYS,
  ENCODER_DEFAULTS,
  HEAD_DEFAULTS,
  METHODS,
  OPTIMIZERS,
  type OptimizerConfig,
  resolveConfig,
  SAMPLERS,
  type TrainConfig,
} from 'supcon';
import {
  AUGMENTS,
  type DataSpec,
  ENCODERS,
  modelForMethod,
  PRECISIONS,
  RAND_AUGMENT_DEFAULTS,
  type RunExtension,
  type RunSpec,
} from './spec.js';
import { isLegacyModel, type LegacyModelSpec, upgradeRunSpec } from './spec-legacy.js';

type Field = { optional?: true } & (
  | { type: 'number' | 'integer' | 'boolean' | 'string' | 'numbers' }
  | { type: 'choice'; choices: readonly string[] }
  | { type: 'object'; fields: Schema }
  | { type: 'list'; item: Schema }
  /** `RunSpec.model`: `{ encoder, head }`, or the flat format of older config files. */
  | { type: 'model' }
  /** A discriminated union on `kind`: each kind's keys are those of its defaults. */
  | { type: 'variant'; defaults: Readonly<Record<string, object>> }
);
type Schema = Record<string, Field>;
/** The compiler keeps each schema complete: a new spec field without its entry does not build. */
type FieldsOf<T> = { [K in keyof Required<T>]: Field };

const number = { type: 'number' } as const;
const integer = { type: 'integer' } as const;
const boolean = { type: 'boolean' } as const;
const optional = <F extends Field>(f: F): F => ({ ...f, optional: true });

const OPTIMIZER_FIELDS: FieldsOf<OptimizerConfig> = {
  kind: { type: 'choice', choices: OPTIMIZERS },
  momentum: optional(number),
  nesterov: optional(boolean),
  dampening: optional(number),
  weightDecay: optional(number),
  excludeBatchNormAndBias: optional(boolean),
  trustCoefficient: optional(number),
  beta1: optional(number),
  beta2: optional(number),
  epsilon: optional(number),
  decoupled: optional(boolean),
  clipGradNorm: optional(number),
};

const TRAIN_FIELDS: FieldsOf<TrainConfig> = {
  method: { type: 'choice', choices: METHODS },
  epochs: integer,
  batchSize: integer,
  views: integer,
  temperature: number,
  baseTemperature: optional(number),
  optimizer: { type: 'object', fields: OPTIMIZER_FIELDS },
  lr: number,
  decay: { type: 'choice', choices: DECAYS },
  warmupEpochs: number,
  minLr: number,
  milestones: { type: 'numbers' },
  gamma: number,
  scaleWithBatch: boolean,
  seed: integer,
  queueSize: integer,
  chunkRows: integer,
  sampler: optional({ type: 'choice', choices: SAMPLERS }),
  samplesPerClass: optional(integer),
  jointProbe: optional(boolean),
  syncBatchNorm: optional(boolean),
  labelSmoothing: optional(number),
  queueMomentum: optional(number),
  mixupAlpha: optional(number),
  cutmixAlpha: optional(number),
  mixProb: optional(number),
};

/** The flat format of config files written before `{ encoder, head }` (spec-legacy.ts). */
const LEGACY_MODEL_FIELDS: FieldsOf<LegacyModelSpec> = {
  encoder: { type: 'choice', choices: ENCODERS },
  width: integer,
  blocksPerStage: integer,
  stemStride: integer,
  hidden: { type: 'numbers' },
  stem: optional({ type: 'choice', choices: ['cifar', 'imagenet'] }),
  widthMultiplier: optional(number),
  projection: { type: 'choice', choices: ['mlp', 'linear'] },
  projectionDim: integer,
  normalizeEncoderOutput: boolean,
};

const MODEL_FIELDS: FieldsOf<RunSpec['model']> = {
  encoder: { type: 'variant', defaults: ENCODER_DEFAULTS },
  head: { type: 'variant', defaults: HEAD_DEFAULTS },
};

const DATA_FIELDS: FieldsOf<DataSpec> = {
  dataset: { type: 'string' },
  validation: number,
  limit: integer,
  augment: { type: 'choice', choices: AUGMENTS },
  randAugmentMagnitude: optional(integer),
  randAugmentOps: optional(integer),
  randomErasing: optional(number),
  randomErasingScale: optional({ type: 'numbers' }),
  size: optional(integer),
  grayscale: optional(boolean),
};

const EXTENSION_FIELDS: FieldsOf<RunExtension> = {
  atIteration: integer,
  fromEpochs: integer,
  toEpochs: integer,
};

const RUN_FIELDS: FieldsOf<RunSpec> = {
  train: { type: 'object', fields: TRAIN_FIELDS },
  model: { type: 'model' },
  data: { type: 'object', fields: DATA_FIELDS },
  checkpointEvery: integer,
  knnK: integer,
  probeEpochs: integer,
  precision: optional({ type: 'choice', choices: PRECISIONS }),
  extensions: optional({ type: 'list', item: EXTENSION_FIELDS }),
};

const EXPECTED: Record<Exclude<Field['type'], 'choice' | 'object' | 'list' | 'model' | 'variant'>, string> = {
  number: 'a finite number',
  integer: 'an integer',
  boolean: 'true or false',
  string: 'a string',
  numbers: 'an array of numbers',
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The keys of a union value: `kind` one of the table's, the other keys those of that kind (in a
 * partial spec without `kind`, of any kind). The values are checked by the core (checkModelSpec).
 */
function checkVariant(
  defaults: Readonly<Record<string, object>>,
  value: unknown,
  path: string,
  complete: boolean,
) {
  check(isObject(value), path, 'a JSON object with a `kind`', value);
  const kinds = Object.keys(defaults);
  const kind = value['kind'];
  if (kind !== undefined || complete)
    check(
      typeof kind === 'string' && kinds.includes(kind),
      `${path}.kind`,
      `one of ${kinds.join(', ')}`,
      kind,
    );
  const keys =
    kind === undefined
      ? kinds.flatMap((k) => Object.keys(defaults[k]!))
      : Object.keys(defaults[kind as string]!);
  const what = kind === undefined ? `\`${path}\`` : `a ${kind} \`${path}\``;
  for (const [key, v] of Object.entries(value))
    check(
      keys.includes(key),
      `${path}.${key}`,
      `no such key: ${what} has only the keys ${[...new Set(keys)].join(', ')}`,
      v,
    );
  if (complete)
    for (const key of keys)
      check(value[key] !== undefined, `${path}.${key}`, 'a value (the key is required)', undefined);
}

function checkField(field: Field, value: unknown, path: string, complete: boolean): void {
  if (field.type === 'model') {
    checkObject(isLegacyModel(value) ? LEGACY_MODEL_FIELDS : MODEL_FIELDS, value, path, complete);
    return;
  }
  if (field.type === 'variant') {
    checkVariant(field.defaults, value, path, complete);
    return;
  }
  if (field.type === 'object') {
    checkObject(field.fields, value, path, complete);
    return;
  }
  if (field.type === 'list') {
    check(Array.isArray(value), path, 'an array of JSON objects', value);
    // Each entry is a record, complete even in a partial spec.
    for (const [i, item] of (value as unknown[]).entries())
      checkObject(field.item, item, `${path}[${i}]`, true);
    return;
  }
  if (field.type === 'choice') {
    const ok = typeof value === 'string' && field.choices.includes(value);
    check(ok, path, `one of ${field.choices.join(', ')}`, value);
    return;
  }
  const isNumber = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  const ok = {
    number: isNumber(value),
    integer: Number.isInteger(value),
    boolean: typeof value === 'boolean',
    string: typeof value === 'string',
    numbers: Array.isArray(value) && value.every(isNumber),
  }[field.type];
  check(ok, path, EXPECTED[field.type], value);
}

function checkObject(schema: Schema, value: unknown, path: string, complete: boolean): void {
  check(isObject(value), path || 'spec', 'a JSON object', value);
  const where = path ? `\`${path}\`` : 'the run spec';
  for (const [key, v] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    const field = schema[key];
    check(
      field !== undefined,
      at,
      `no such key: ${where} has only the keys ${Object.keys(schema).join(', ')}`,
      v,
    );
    checkField(field, v, at, complete);
  }
  if (!complete) return;
  for (const [key, field] of Object.entries(schema)) {
    const at = path ? `${path}.${key}` : key;
    check(
      field.optional === true || value[key] !== undefined,
      at,
      'a value (the key is required)',
      undefined,
    );
  }
}

/**
 * Checks the keys and value types of every level of a run spec, naming the dotted path of the first
 * problem (InvalidArgumentError). `partial` (a config file): keys may be missing.
 *
 * @example
 *   checkSpecShape({ model: { encodr: 'mlp' } }, { partial: true });
 *   // Invalid value for argument `model.encodr`. Expected no such key: `model` has only the keys encoder, head.
 */
export function checkSpecShape(value: unknown, options: { partial?: boolean } = {}): void {
  checkObject(RUN_FIELDS, value, '', options.partial !== true);
}

/** Folder images are resized to this size by default (`data.size`). */
export const DEFAULT_FOLDER_SIZE = 32;

/**
 * A complete, validated copy of `spec`, with every default that training would otherwise apply
 * silently written out (the train config's derived fields; the precision; a folder dataset's image
 * size and channels), so the config.json stored from it is exactly what trains. `data.size` and
 * `data.grayscale` apply to folder datasets only: the built-in ones have a fixed shape.
 */
export function resolveRunSpec(spec: RunSpec): RunSpec {
  // A spec in the flat model format of older config files is upgraded first (spec-legacy.ts).
  const resolved = upgradeRunSpec(structuredClone(spec));
  resolved.train = resolveConfig(resolved.train);
  resolved.precision ??= 'fp32';
  checkSpecShape(resolved);
  // The head follows the method: the classifier for ce, a projection head (the default one in
  // place of a classifier) for supcon and simclr.
  resolved.model = modelForMethod(resolved.model, resolved.train.method);
  // The model's values too (a ResNet's width multiplier, …): refused before any data loads, in every process.
  checkModelSpec(resolved.model, 'model');
  const data = resolved.data;
  resolveRandAugment(data);
  checkRandomErasing(data);
  // Only the kind matters here; the name is checked when the data loads (tests pass their own data).
  if (data.dataset.startsWith('folder:')) {
    data.size ??= DEFAULT_FOLDER_SIZE;
    data.grayscale ??= false;
    check(data.size >= 1, 'data.size', 'an integer >= 1 (pixels per side)', data.size);
  } else {
    for (const key of ['size', 'grayscale'] as const)
      check(
        data[key] === undefined,
        `data.${key}`,
        `no value for dataset ${JSON.stringify(data.dataset)} (only folder: datasets are resized or decoded to one channel; the built-in datasets have a fixed shape)`,
        data[key],
      );
  }
  return resolved;
}

/**
 * A `randaugment` run's magnitude and operations, written out (the defaults when unset); refused for
 * any other augmentation, which has no RandAugment to set. Other runs keep no such keys, so their
 * config.json is as before.
 */
function resolveRandAugment(data: DataSpec): void {
  const keys = ['randAugmentMagnitude', 'randAugmentOps'] as const;
  if (data.augment !== 'randaugment') {
    for (const key of keys)
      check(
        data[key] === undefined,
        `data.${key}`,
        `no value with data.augment ${JSON.stringify(data.augment)} (only randaugment has a magnitude and a number of operations)`,
        data[key],
      );
    return;
  }
  data.randAugmentMagnitude ??= RAND_AUGMENT_DEFAULTS.magnitude;
  data.randAugmentOps ??= RAND_AUGMENT_DEFAULTS.ops;
  const top = RAND_AUGMENT_DEFAULTS.bins - 1;
  check(
    data.randAugmentMagnitude >= 0 && data.randAugmentMagnitude <= top,
    'data.randAugmentMagnitude',
    `an integer bin from 0 to ${top}`,
    data.randAugmentMagnitude,
  );
  check(data.randAugmentOps >= 1, 'data.randAugmentOps', 'an integer >= 1', data.randAugmentOps);
}

/** Random erasing's probability and area range, kept as given (no key is added when unset). */
function checkRandomErasing(data: DataSpec): void {
  const p = data.randomErasing;
  check(p === undefined || (p > 0 && p <= 1), 'data.randomErasing', 'a probability in (0, 1]', p);
  const scale = data.randomErasingScale;
  if (scale === undefined) return;
  check(
    p !== undefined,
    'data.randomErasingScale',
    'no value without data.randomErasing (it sets the area of the erased box)',
    scale,
  );
  check(
    scale.length === 2 && scale[0]! >= 0 && scale[0]! <= scale[1]! && scale[1]! <= 1 && scale[1]! > 0,
    'data.randomErasingScale',
    '[min, max] area fractions with 0 <= min <= max <= 1 and max > 0',
    scale,
  );
}

/**
 * The leaves where two specs differ, as `path: A → B` (JSON values), in key order; empty when equal.
 * Two union values of different kinds (`model.encoder`, `model.head`) are one line naming the kinds.
 *
 * @example
 *   specDifferences({ train: { epochs: 1 } }, { train: { epochs: 2 } }); // ['train.epochs: 1 → 2']
 */
export function specDifferences(a: unknown, b: unknown, path = ''): string[] {
  // A union value of another kind (an mlp encoder for a small-resnet one) differs as a whole.
  if (isObject(a) && isObject(b) && typeof a['kind'] === 'string' && a['kind'] !== b['kind'])
    return [`${path}: ${JSON.stringify(a['kind'])} → ${JSON.stringify(b['kind'])}`];
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => specDifferences(a[k], b[k], path ? `${path}.${k}` : k));
  }
  const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v));
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${path || 'spec'}: ${show(a)} → ${show(b)}`];
}
