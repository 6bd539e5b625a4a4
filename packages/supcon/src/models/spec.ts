/**
 * The model description, declared once: an encoder spec and a head spec, each a discriminated union
 * on `kind`, with one validator and one builder per kind in the tables below. The run spec
 * (`config.json`'s `model`), the CLI and the export to the TensorFlow.js layers format all use these
 * types; adding an encoder means one variant, one row in each table, and the export's row.
 *
 * Encoders (images [B, H, W, C] → features [B, D]):
 *   - resnet: ResNet-18/34/50 as the SupCon reference builds them (resnet.ts); D = 512·m or 2048·m;
 *   - small-resnet: a 3×3 stem and three stages of BasicBlocks for 28×28 inputs (small.ts); D = 4c;
 *   - mlp: flatten → (Linear → BatchNorm → ReLU) per hidden width (small.ts); D = hidden.at(-1);
 *   - vit: a Vision Transformer, patch embedding and pre-norm blocks (vit.ts); D = dim; its defaults
 *     are the `vit-tiny` preset (VIT_PRESETS).
 * Heads (features [B, D] → [B, outputDim]):
 *   - projection: SupCon's MLP (Linear → ReLU → Linear) or a linear one; unit rows (the loss does not
 *     normalise);
 *   - classifier: the cross-entropy head, logits [B, classes] (classes come from the dataset).
 *
 * Each width has its own name, so none means two things:
 *   - `widthMultiplier` (resnet): m scales the standard channel counts (64·m in the first stage);
 *   - `baseChannels` (small-resnet): c, the channels of the first stage (stages c, 2c, 4c);
 *   - `hidden` (mlp): the widths of the hidden layers;
 *   - `dim` (vit): the token width.
 *
 * Example:
 *   const encoder = createEncoder({ kind: 'small-resnet', baseChannels: 16, blocksPerStage: 1, stemStride: 2 },
 *     { inputShape: [28, 28, 1], seed: 0 });
 *   const head = createHead(HEAD_DEFAULTS.projection, { inputDim: encoder.outputDim, classes: 10, seed: 1 });
 */
import { check } from '../errors.js';
import type { Network } from './network.js';
import {
  checkWidthMultiplier,
  RESNET_DEPTHS,
  RESNET_STEMS,
  type ResNetDepth,
  type ResNetStem,
  resNetEncoder,
} from './resnet.js';
import { linearClassifier, mlpEncoder, projectionHead, smallResNet } from './small.js';
import { checkVitSize, VIT_PRESETS, type VitSize, vitEncoder } from './vit.js';

export interface ResNetSpec {
  kind: 'resnet';
  /** 18, 34 (BasicBlocks) or 50 (Bottlenecks). */
  depth: ResNetDepth;
  /** 'cifar': 3×3 stride-1 conv, no max-pool; 'imagenet': 7×7 stride-2 conv and a 3×3 max-pool. */
  stem: ResNetStem;
  /** m: every channel count × m (64·m in the first stage); features 512·m (18, 34) or 2048·m (50). */
  widthMultiplier: number;
}

export interface SmallResNetSpec {
  kind: 'small-resnet';
  /** c: channels of the first stage (stages c, 2c, 4c); features 4c. */
  baseChannels: number;
  /** BasicBlocks per stage. */
  blocksPerStage: number;
  /** 2 halves every feature map (about 4× fewer FLOPs), for slow backends. */
  stemStride: 1 | 2;
}

export interface MlpSpec {
  kind: 'mlp';
  /** Hidden widths; the last is the feature size. */
  hidden: number[];
}

/** A Vision Transformer (vit.ts): patch, dim, depth, heads, mlpRatio, pool and gelu, all required. */
export interface VitSpec extends VitSize {
  kind: 'vit';
}

export type EncoderSpec = ResNetSpec | SmallResNetSpec | MlpSpec | VitSpec;
export type EncoderKind = EncoderSpec['kind'];

export interface ProjectionHeadSpec {
  kind: 'projection';
  /** 'mlp' (Linear → ReLU → Linear, SupCon's default) or 'linear'. */
  projection: 'mlp' | 'linear';
  /** Embedding size (128 in the paper). */
  outputDim: number;
  /** L2-normalise the encoder features before the head. */
  normalizeInput: boolean;
}

/** The cross-entropy baseline's linear classifier; its classes are the dataset's. */
export interface ClassifierHeadSpec {
  kind: 'classifier';
}

export type HeadSpec = ProjectionHeadSpec | ClassifierHeadSpec;
export type HeadKind = HeadSpec['kind'];

/** An encoder and the head on its features: what `RunSpec.model` stores. */
export interface ModelSpec {
  encoder: EncoderSpec;
  head: HeadSpec;
}

type Variant<U, K> = Extract<U, { kind: K }>;

export const ENCODER_KINDS = [
  'resnet',
  'small-resnet',
  'mlp',
  'vit',
] as const satisfies readonly EncoderKind[];
export const HEAD_KINDS = ['projection', 'classifier'] as const satisfies readonly HeadKind[];

/** Each kind's defaults, the factories' defaults (what a spec naming only its kind gets). */
export const ENCODER_DEFAULTS: { readonly [K in EncoderKind]: Readonly<Variant<EncoderSpec, K>> } = {
  // The SupCon reference's CIFAR ResNet-18.
  resnet: { kind: 'resnet', depth: 18, stem: 'cifar', widthMultiplier: 1 },
  // 16·4 = 64 features: large enough for Fashion-MNIST, small enough to train on 2 cores in minutes.
  'small-resnet': { kind: 'small-resnet', baseChannels: 16, blocksPerStage: 1, stemStride: 1 },
  mlp: { kind: 'mlp', hidden: [512, 256] },
  // The small-image preset: 49 tokens on 28×28, 64 on 32×32.
  vit: { kind: 'vit', ...VIT_PRESETS['vit-tiny'] },
};

export const HEAD_DEFAULTS: { readonly [K in HeadKind]: Readonly<Variant<HeadSpec, K>> } = {
  // The paper's head: a 2-layer MLP to 128 dimensions on the raw features.
  projection: { kind: 'projection', projection: 'mlp', outputDim: 128, normalizeInput: false },
  classifier: { kind: 'classifier' },
};

/** What an encoder is built for: one image's shape [height, width, channels], and the seed. */
export interface EncoderInput {
  inputShape: [number, number, number];
  seed: number;
}

/** What a head is built for: the encoder's feature size, the dataset's classes, and the seed. */
export interface HeadInput {
  inputDim: number;
  classes: number;
  seed: number;
}

interface Entry<S, I> {
  /** The keys of the variant, besides `kind` (a spec with other keys is refused). */
  keys: readonly (keyof S & string)[];
  /** Validates the fields, naming them under `path`. */
  check(spec: S, path: string): void;
  create(spec: S, input: I): Network;
}

const positiveInt = (value: unknown, argument: string) =>
  check(Number.isInteger(value) && (value as number) > 0, argument, 'a positive integer', value);

/** The encoder table: one row per kind. */
const ENCODERS: { [K in EncoderKind]: Entry<Variant<EncoderSpec, K>, EncoderInput> } = {
  resnet: {
    keys: ['depth', 'stem', 'widthMultiplier'],
    check: (s, path) => {
      check(RESNET_DEPTHS.includes(s.depth), `${path}.depth`, `one of ${RESNET_DEPTHS.join(', ')}`, s.depth);
      check(RESNET_STEMS.includes(s.stem), `${path}.stem`, '"cifar" or "imagenet"', s.stem);
      checkWidthMultiplier(s.widthMultiplier, `${path}.widthMultiplier`);
    },
    create: (s, { inputShape, seed }) =>
      resNetEncoder({
        depth: s.depth,
        stem: s.stem,
        width: s.widthMultiplier,
        inChannels: inputShape[2],
        seed,
      }),
  },
  'small-resnet': {
    keys: ['baseChannels', 'blocksPerStage', 'stemStride'],
    check: (s, path) => {
      positiveInt(s.baseChannels, `${path}.baseChannels`);
      positiveInt(s.blocksPerStage, `${path}.blocksPerStage`);
      check(s.stemStride === 1 || s.stemStride === 2, `${path}.stemStride`, '1 or 2', s.stemStride);
    },
    create: (s, { inputShape, seed }) =>
      smallResNet({
        channels: inputShape[2],
        width: s.baseChannels,
        blocksPerStage: s.blocksPerStage,
        stemStride: s.stemStride,
        seed,
      }),
  },
  mlp: {
    keys: ['hidden'],
    check: (s, path) =>
      check(
        Array.isArray(s.hidden) && s.hidden.length > 0 && s.hidden.every((h) => Number.isInteger(h) && h > 0),
        `${path}.hidden`,
        'a non-empty array of positive integer widths',
        s.hidden,
      ),
    create: (s, { inputShape: [h, w, c], seed }) =>
      mlpEncoder({ inputDim: h * w * c, hidden: s.hidden, seed }),
  },
  vit: {
    keys: ['patch', 'dim', 'depth', 'heads', 'mlpRatio', 'pool', 'gelu'],
    check: (s, path) => checkVitSize(s, undefined, path),
    create: ({ kind: _, ...size }, { inputShape, seed }) => {
      checkVitSize(size, inputShape, 'encoder'); // the image side against the patch, named as createEncoder names fields
      return vitEncoder({ ...size, inputShape, seed });
    },
  },
};

/** The head table: one row per kind. */
const HEADS: { [K in HeadKind]: Entry<Variant<HeadSpec, K>, HeadInput> } = {
  projection: {
    keys: ['projection', 'outputDim', 'normalizeInput'],
    check: (s, path) => {
      check(
        s.projection === 'mlp' || s.projection === 'linear',
        `${path}.projection`,
        '"mlp" or "linear"',
        s.projection,
      );
      positiveInt(s.outputDim, `${path}.outputDim`);
      check(
        typeof s.normalizeInput === 'boolean',
        `${path}.normalizeInput`,
        'true or false',
        s.normalizeInput,
      );
    },
    create: (s, { inputDim, seed }) =>
      projectionHead({
        inputDim,
        outputDim: s.outputDim,
        kind: s.projection,
        normalizeInput: s.normalizeInput,
        seed,
      }),
  },
  classifier: {
    keys: [],
    check: () => {},
    create: (_, { inputDim, classes, seed }) => linearClassifier({ inputDim, classes, seed }),
  },
};

function checkVariant<T extends { kind: string }>(
  table: Record<string, Entry<never, unknown>>,
  spec: T,
  path: string,
): void {
  check(typeof spec === 'object' && spec !== null && !Array.isArray(spec), path, 'a JSON object', spec);
  const kinds = Object.keys(table);
  check(kinds.includes(spec.kind), `${path}.kind`, `one of ${kinds.join(', ')}`, spec.kind);
  const entry = table[spec.kind]!;
  for (const key of Object.keys(spec))
    check(
      key === 'kind' || (entry.keys as readonly string[]).includes(key),
      `${path}.${key}`,
      `no such key: a ${spec.kind} has only the keys ${['kind', ...entry.keys].join(', ')}`,
      (spec as Record<string, unknown>)[key],
    );
  for (const key of entry.keys)
    check(
      (spec as Record<string, unknown>)[key] !== undefined,
      `${path}.${key}`,
      'a value (the key is required)',
      undefined,
    );
  (entry.check as (s: T, p: string) => void)(spec, path);
}

/**
 * Validates an encoder spec, naming the first bad field under `path` (InvalidArgumentError).
 *
 * @example
 *   checkEncoderSpec({ kind: 'resnet', depth: 18, stem: 'cifar', widthMultiplier: 0.3 }, 'model.encoder');
 *   // Invalid value for argument `model.encoder.widthMultiplier`. Expected a positive multiplier …
 */
export function checkEncoderSpec(spec: EncoderSpec, path = 'encoder'): void {
  checkVariant(ENCODERS as unknown as Record<string, Entry<never, unknown>>, spec, path);
}

/** Validates a head spec, naming the first bad field under `path` (InvalidArgumentError). */
export function checkHeadSpec(spec: HeadSpec, path = 'head'): void {
  checkVariant(HEADS as unknown as Record<string, Entry<never, unknown>>, spec, path);
}

/** Validates a model spec (`path.encoder`, `path.head`). */
export function checkModelSpec(spec: ModelSpec, path = 'model'): void {
  check(typeof spec === 'object' && spec !== null, path, 'a JSON object with encoder and head', spec);
  checkEncoderSpec(spec.encoder, `${path}.encoder`);
  checkHeadSpec(spec.head, `${path}.head`);
}

/**
 * The encoder a spec describes, in the trainer's `Network` shape (features [B, D]).
 * Example: `createEncoder(ENCODER_DEFAULTS.resnet, { inputShape: [32, 32, 3], seed: 0 }).outputDim` → 512.
 */
export function createEncoder(spec: EncoderSpec, input: EncoderInput): Network {
  checkEncoderSpec(spec);
  const entry = ENCODERS[spec.kind] as Entry<EncoderSpec, EncoderInput>;
  return entry.create(spec, input);
}

/**
 * The head a spec describes, in the trainer's `Network` shape ([B, outputDim] unit rows for a
 * projection, logits [B, classes] for a classifier).
 */
export function createHead(spec: HeadSpec, input: HeadInput): Network {
  checkHeadSpec(spec);
  const entry = HEADS[spec.kind] as Entry<HeadSpec, HeadInput>;
  return entry.create(spec, input);
}
