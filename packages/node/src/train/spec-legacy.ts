/**
 * The flat model spec that config.json files (and checkpoints' metadata) held before the model
 * description became one union in the core (`RunSpec.model = { encoder, head }`, models/spec.ts):
 * such files are read by upgrading them here, never rewritten, so an old run folder still trains,
 * resumes, evaluates and exports as it did. The flat keys are also what the CLI's model flags name
 * (`--encoder`, `--width`, `--stem-stride`, `--projection`, `--stem`, `--width-multiplier`), so
 * `patchModel` applies both.
 *
 * The old ResNets kept a second projection head (resnet.ts's, variables `head/w1` …); a run of one
 * has checkpoint entries `head/head/w1` …, which `upgradeCheckpointNames` renames to the one head's
 * names (`head/dense0/kernel` …) with their optimiser slots. Its initialisation stream differed, so
 * a new ResNet run does not start from the same head weights as before; a loaded one computes the same.
 */
import {
  check,
  checkWidthMultiplier,
  ENCODER_DEFAULTS,
  type EncoderSpec,
  HEAD_DEFAULTS,
  type HeadSpec,
  type Method,
  type ModelSpec,
  RESNET_STEMS,
  type TrainerState,
} from 'supcon';
import {
  ENCODERS,
  type EncoderName,
  encoderName,
  encoderSpecFor,
  modelForMethod,
  type RunSpec,
} from './spec.js';

/** config.json's `model` before the union: every key present, each used only by some encoders. */
export interface LegacyModelSpec {
  encoder: EncoderName;
  /** small-resnet: channels of the first stage (now `baseChannels`). */
  width: number;
  blocksPerStage: number;
  stemStride: 1 | 2;
  /** mlp: hidden widths. */
  hidden: number[];
  /** resnet18/34/50. */
  stem?: 'cifar' | 'imagenet';
  /** resnet18/34/50: channel multiplier. */
  widthMultiplier?: number;
  projection: 'mlp' | 'linear';
  /** Now `head.outputDim`. */
  projectionDim: number;
  /** Now `head.normalizeInput`. */
  normalizeEncoderOutput: boolean;
}

/** The keys of the flat spec, for the schema check and the detection of the old format. */
export const LEGACY_MODEL_KEYS = [
  'encoder',
  'width',
  'blocksPerStage',
  'stemStride',
  'hidden',
  'stem',
  'widthMultiplier',
  'projection',
  'projectionDim',
  'normalizeEncoderOutput',
] as const satisfies readonly (keyof LegacyModelSpec)[];

/**
 * Whether a (possibly partial) `model` object is in the flat format: its `encoder` is a name rather
 * than an object, or it has a key only the flat format has.
 */
export function isLegacyModel(model: unknown): boolean {
  if (typeof model !== 'object' || model === null || Array.isArray(model)) return false;
  const m = model as Record<string, unknown>;
  return (
    typeof m['encoder'] === 'string' ||
    Object.keys(m).some(
      (k) => k !== 'encoder' && k !== 'head' && (LEGACY_MODEL_KEYS as readonly string[]).includes(k),
    )
  );
}

/**
 * `model` with flat values applied: a new encoder name starts from that kind's defaults (or keeps
 * the current encoder when the kind and depth are the same), then each flat key sets the field it
 * names where the encoder or head has one (`width` → small-resnet's `baseChannels`, `projectionDim`
 * → the projection head's `outputDim`, …); keys for other kinds are ignored, as they always were.
 *
 * @example
 *   patchModel(presetSpec().model, { encoder: 'mlp', hidden: [64] }).encoder; // { kind: 'mlp', hidden: [64] }
 */
export function patchModel(model: ModelSpec, flat: Partial<LegacyModelSpec>): ModelSpec {
  const name = flat.encoder ?? encoderName(model.encoder);
  check(ENCODERS.includes(name), 'model.encoder', `one of ${ENCODERS.join(', ')}`, name);
  const encoder: EncoderSpec =
    name === encoderName(model.encoder) ? { ...model.encoder } : encoderSpecFor(name);
  switch (encoder.kind) {
    case 'small-resnet':
      if (flat.width !== undefined) encoder.baseChannels = flat.width;
      if (flat.blocksPerStage !== undefined) encoder.blocksPerStage = flat.blocksPerStage;
      if (flat.stemStride !== undefined) encoder.stemStride = flat.stemStride;
      break;
    case 'mlp':
      if (flat.hidden !== undefined) encoder.hidden = [...flat.hidden];
      break;
    case 'resnet':
      // Named as given (the flag's or old config's key); the rule is the core's, one for both names.
      if (flat.stem !== undefined) {
        check(RESNET_STEMS.includes(flat.stem), 'model.stem', '"cifar" or "imagenet"', flat.stem);
        encoder.stem = flat.stem;
      }
      if (flat.widthMultiplier !== undefined) {
        checkWidthMultiplier(flat.widthMultiplier, 'model.widthMultiplier');
        encoder.widthMultiplier = flat.widthMultiplier;
      }
      break;
  }
  const head: HeadSpec = { ...model.head };
  if (head.kind === 'projection') {
    if (flat.projection !== undefined) head.projection = flat.projection;
    if (flat.projectionDim !== undefined) head.outputDim = flat.projectionDim;
    if (flat.normalizeEncoderOutput !== undefined) head.normalizeInput = flat.normalizeEncoderOutput;
  }
  return { encoder, head };
}

/**
 * The model spec of a flat (possibly partial) one, for a run of `method`: the flat values over each
 * kind's defaults, the classifier head for `ce`.
 */
export function upgradeModel(flat: Partial<LegacyModelSpec>, method: Method): ModelSpec {
  const name = flat.encoder ?? 'small-resnet';
  const base: ModelSpec = {
    encoder: encoderSpecFor(name),
    head: method === 'ce' ? { ...HEAD_DEFAULTS.classifier } : { ...HEAD_DEFAULTS.projection },
  };
  return modelForMethod(patchModel(base, flat), method);
}

/**
 * A partial model from a config file applied to `model`: a flat one through `patchModel`; a
 * nested one part by part, an encoder (or head) of another kind starting from that kind's defaults.
 */
export function mergeModel(model: ModelSpec, partial: unknown): ModelSpec {
  if (partial === undefined) return model;
  if (isLegacyModel(partial)) return patchModel(model, partial as Partial<LegacyModelSpec>);
  const p = partial as { encoder?: Partial<EncoderSpec>; head?: Partial<HeadSpec> };
  const part = <S extends { kind: string }>(
    current: S,
    given: Partial<S> | undefined,
    defaults: Record<string, S>,
  ): S => {
    if (given === undefined) return current;
    const kind = given.kind ?? current.kind;
    const base = kind === current.kind ? current : (defaults[kind] ?? current);
    return { ...structuredClone(base), ...given } as S;
  };
  return {
    encoder: part(model.encoder, p.encoder, ENCODER_DEFAULTS as unknown as Record<string, EncoderSpec>),
    head: part(model.head, p.head, HEAD_DEFAULTS as unknown as Record<string, HeadSpec>),
  };
}

/**
 * A run spec as read from a config.json or a checkpoint: one in the flat format upgraded (the
 * file itself is left as it is), anything else as given (resolveRunSpec checks it).
 */
export function upgradeRunSpec(raw: unknown): RunSpec {
  const spec = raw as RunSpec & { model: unknown };
  if (typeof spec !== 'object' || spec === null || !isLegacyModel(spec.model)) return spec;
  const method = (spec.train as { method?: Method } | undefined)?.method ?? 'supcon';
  return { ...spec, model: upgradeModel(spec.model as unknown as Partial<LegacyModelSpec>, method) };
}

/** resnet.ts's projection head (the old ResNets' head) → the one projection head's names. */
const LEGACY_HEAD_NAMES: Record<string, string> = {
  'head/head/w1': 'head/dense0/kernel',
  'head/head/b1': 'head/dense0/bias',
  'head/head/w2': 'head/dense1/kernel',
  'head/head/b2': 'head/dense1/bias',
};

function renamed(name: string): string {
  for (const [old, now] of Object.entries(LEGACY_HEAD_NAMES))
    if (name === old || name.startsWith(`${old}/`)) return now + name.slice(old.length);
  return name;
}

/**
 * A checkpoint's state with the old ResNet head's entries (weights and optimiser slots such as
 * `head/head/w1/momentum`) under the one projection head's names; other states unchanged.
 */
export function upgradeCheckpointNames(state: TrainerState): TrainerState {
  if (!Object.keys(state.variables).some((n) => n in LEGACY_HEAD_NAMES)) return state;
  const rename = <T>(entries: Record<string, T>) =>
    Object.fromEntries(Object.entries(entries).map(([n, v]) => [renamed(n), v]));
  return {
    ...state,
    variables: rename(state.variables),
    optimizer: { ...state.optimizer, slots: rename(state.optimizer.slots) },
  };
}
