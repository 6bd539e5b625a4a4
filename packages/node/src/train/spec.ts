/**
 * A run's full specification (what `supcon train` writes to `config.json`), its presets, and the
 * construction of models and data from it. Every default carries its reason.
 */
import {
  type AugmentStep,
  check,
  checkEncoderSpec,
  checkHeadSpec,
  createEncoder,
  createHead,
  ENCODER_DEFAULTS,
  type EncoderSpec,
  HEAD_DEFAULTS,
  type Method,
  type ModelSpec,
  type Network,
  type ResNetDepth,
  resolveConfig,
  type SmallResNetSpec,
  type TrainConfig,
  VIT_PRESETS,
} from 'supcon';

export type { ModelSpec } from 'supcon';

/**
 * The encoders by the names the CLI takes (`--encoder`): the kinds of `EncoderSpec`, the ResNet
 * by depth, the ViT by kind (its defaults, vit-tiny) or by preset (vit-mini, vit-tiny, vit-b16). A ViT's other sizes are set in a
 * config file (`{"model": {"encoder": {"kind": "vit", "dim": 16, …}}}`).
 */
export const ENCODERS = [
  'small-resnet',
  'mlp',
  'resnet18',
  'resnet34',
  'resnet50',
  'vit',
  'vit-mini',
  'vit-tiny',
  'vit-b16',
] as const;
export type EncoderName = (typeof ENCODERS)[number];
const RESNET_DEPTH: Record<string, ResNetDepth> = { resnet18: 18, resnet34: 34, resnet50: 50 };

/** The spec of an encoder name with its kind's defaults, e.g. resnet50 → ResNet-50, cifar stem, m = 1. */
export function encoderSpecFor(name: EncoderName): EncoderSpec {
  check(ENCODERS.includes(name), 'model.encoder', `one of ${ENCODERS.join(', ')}`, name);
  const depth = RESNET_DEPTH[name];
  if (depth !== undefined) return { ...ENCODER_DEFAULTS.resnet, depth };
  if (name === 'vit-mini' || name === 'vit-tiny' || name === 'vit-b16')
    return { kind: 'vit', ...VIT_PRESETS[name] };
  return structuredClone(ENCODER_DEFAULTS[name as 'small-resnet' | 'mlp' | 'vit']);
}

/** The CLI name of an encoder spec: its kind, or resnet18/34/50 for a ResNet (`vit` for any ViT). */
export function encoderName(spec: EncoderSpec): EncoderName {
  return spec.kind === 'resnet' ? (`resnet${spec.depth}` as EncoderName) : spec.kind;
}

/**
 * The head a method trains: the cross-entropy baseline's classifier for `ce`, else a projection
 * head (the given one, or the paper's default when `model` had the classifier).
 */
export function modelForMethod(model: ModelSpec, method: Method): ModelSpec {
  if ((method === 'ce') === (model.head.kind === 'classifier')) return model;
  return {
    ...model,
    head: method === 'ce' ? { kind: 'classifier' } : { ...HEAD_DEFAULTS.projection },
  };
}

export const AUGMENTS = ['light', 'supcon', 'randaugment', 'autoaugment', 'none'] as const;
/**
 * RandAugment's defaults (torchvision's, and the core's): 2 operations a view, each at magnitude bin 9
 * of 31 (bins 0–30; bin 0 leaves every operation with a magnitude as it is).
 */
export const RAND_AUGMENT_DEFAULTS = { magnitude: 9, ops: 2, bins: 31 } as const;
/**
 * The native engine's compute precisions (its `PRECISIONS`; @supcon/node does not depend on the
 * engine, the CLI checks at compile time that the two lists agree).
 */
export const PRECISIONS = ['fp32', 'bf16'] as const;
export type RunPrecision = (typeof PRECISIONS)[number];

export interface DataSpec {
  /** NAME[:PATH] as `supcon data` understands it. */
  dataset: string;
  /** Training samples held out for model selection (never the test set). */
  validation: number;
  /** Use only the first N training samples (after the split), 0 = all. */
  limit: number;
  /**
   * 'light': crop (scale 0.6–1) + flip, suited to 28×28 greyscale; 'supcon': the paper's CIFAR recipe;
   * 'randaugment', 'autoaugment' (CIFAR-10 policy): 'light' followed by that policy, so each differs
   * from 'light' by the policy alone.
   */
  augment: (typeof AUGMENTS)[number];
  /** `randaugment` only: the magnitude bin of every operation, 0–30 (resolveRunSpec writes the default, 9). */
  randAugmentMagnitude?: number;
  /** `randaugment` only: operations per view (resolveRunSpec writes the default, 2). */
  randAugmentOps?: number;
  /**
   * Random erasing at the end of the training views, with this probability (absent: off, and no
   * key is written, so older config files read alike). torchvision's RandomErasing, fill 0.
   */
  randomErasing?: number;
  /** With `randomErasing`: the erased area's fraction range (absent: torchvision's [0.02, 0.33]). */
  randomErasingScale?: [number, number];
  /** `folder:` datasets only: images are resized to size × size (resolveRunSpec writes the default, 32). */
  size?: number;
  /** `folder:` datasets only: decode to one channel (resolveRunSpec writes the default, false). */
  grayscale?: boolean;
}

export interface RunSpec {
  train: TrainConfig;
  /** The encoder and its head (models/spec.ts in the core); the head is the classifier for `ce`. */
  model: ModelSpec;
  data: DataSpec;
  /** Write a checkpoint every N steps (and at every epoch end). */
  checkpointEvery: number;
  /** kNN monitor on the validation split after every epoch (0 = off): k neighbours. */
  knnK: number;
  /** Linear probe epochs (on frozen features). */
  probeEpochs: number;
  /**
   * Compute precision asked of the native engine: 'fp32' (default) or 'bf16' mixed precision. The
   * one in effect (bf16 needs CPU support) is `RunResult.precision`, and `precision` in summary.json.
   */
  precision?: RunPrecision;
  /**
   * How `--resume --epochs N` lengthened the run, in order: at `atIteration` (the steps done then)
   * the run planned for `fromEpochs` epochs was extended to `toEpochs`, and every later step's
   * learning rate (warm-up, decay) is computed over the new total. Absent for a run trained in one piece.
   */
  extensions?: RunExtension[];
}

/** One `--resume --epochs N` of a run (see `RunSpec.extensions`). */
export interface RunExtension {
  atIteration: number;
  fromEpochs: number;
  toEpochs: number;
}

export const PRESETS = ['fashion-quick', 'fashion-demo', 'cifar-paper'] as const;
export type Preset = (typeof PRESETS)[number];

/** What fashion-demo changes in fashion-quick (the demo study's `w24-e15` arm). */
export const FASHION_DEMO = { width: 24, lr: 0.2, epochs: 15 } as const;

/**
 * fashion-quick: `supcon train`'s default and the recipe of every study in docs/findings.md, sized for
 * a 2-core CPU in minutes: a small ResNet of 16 base channels with a stride-2 stem (maps 14×14 → 7×7 →
 * 4×4), batch 256, 10 epochs (about 20 s each on the native engine on an idle 2-core Zen 3), SGD lr
 * 0.1 with a short warm-up.
 * fashion-demo: what `supcon demo` runs, the best SupCon recipe the demo study found that trains in
 * under 600 s on 2 cores (docs/findings.md, "The demo recipe"): fashion-quick at width 24 (features
 * 96), lr 0.2, 15 epochs (about 37 s each on an idle Zen 3, fp32).
 * cifar-paper: the SupCon reference's CIFAR-10 recipe (ResNet-18 stem 3×3, batch 1024, lr 0.5,
 * τ 0.1, cosine, 10 warm-up epochs, 1000 epochs) — for machines with the time.
 */
export function presetSpec(preset: Preset = 'fashion-quick'): RunSpec {
  check(PRESETS.includes(preset), 'preset', `one of ${PRESETS.join(', ')}`, preset);
  if (preset === 'cifar-paper') {
    return {
      train: resolveConfig({
        method: 'supcon',
        epochs: 1000,
        batchSize: 1024,
        lr: 0.5,
        temperature: 0.1,
        warmupEpochs: 10,
        optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 },
      }),
      model: {
        encoder: { kind: 'resnet', depth: 18, stem: 'cifar', widthMultiplier: 1 },
        head: { kind: 'projection', projection: 'mlp', outputDim: 128, normalizeInput: false },
      },
      data: { dataset: 'cifar10', validation: 5000, limit: 0, augment: 'supcon' },
      checkpointEvery: 50,
      knnK: 200,
      probeEpochs: 100,
    };
  }
  if (preset === 'fashion-demo') {
    const quick = presetSpec('fashion-quick');
    return {
      ...quick,
      train: resolveConfig({ ...quick.train, epochs: FASHION_DEMO.epochs, lr: FASHION_DEMO.lr }),
      model: {
        ...quick.model,
        encoder: { ...(quick.model.encoder as SmallResNetSpec), baseChannels: FASHION_DEMO.width },
      },
    };
  }
  return {
    train: resolveConfig({
      method: 'supcon',
      epochs: 10,
      batchSize: 256,
      lr: 0.1,
      temperature: 0.1,
      warmupEpochs: 0.2,
      optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 },
    }),
    model: {
      encoder: { kind: 'small-resnet', baseChannels: 16, blocksPerStage: 1, stemStride: 2 },
      head: { kind: 'projection', projection: 'mlp', outputDim: 128, normalizeInput: false },
    },
    data: { dataset: 'fashion-mnist', validation: 5000, limit: 0, augment: 'light' },
    checkpointEvery: 50,
    knnK: 0,
    probeEpochs: 20,
  };
}

/** The encoder of a run's model for images of `shape` [height, width, channels] (models/spec.ts builds it). */
export function buildEncoder(model: ModelSpec, shape: [number, number, number], seed: number): Network {
  checkEncoderSpec(model.encoder, 'model.encoder');
  return createEncoder(model.encoder, { inputShape: shape, seed });
}

/** The head of a run on `inputDim` features; its seed follows the encoder's (train.seed + 1). */
export function buildHead(spec: RunSpec, inputDim: number, classes: number): Network {
  checkHeadSpec(spec.model.head, 'model.head');
  return createHead(spec.model.head, { inputDim, classes, seed: spec.train.seed + 1 });
}

/**
 * Augmentation steps for training, and the deterministic steps for evaluation. `randAugment` sets
 * the `randaugment` policy's magnitude bin and operations per view (default 9 and 2); `erasing.p`
 * appends random erasing (after normalisation, as torchvision) to the training steps of any kind.
 */
export function augmentSteps(
  kind: DataSpec['augment'],
  size: [number, number],
  mean: number[],
  std: number[],
  randAugment: { magnitude?: number | undefined; ops?: number | undefined } = {},
  erasing: { p?: number | undefined; scale?: [number, number] | undefined } = {},
): { train: AugmentStep[]; eval: AugmentStep[] } {
  const steps = augmentKind(kind, size, mean, std, randAugment);
  if (erasing.p === undefined) return steps;
  const step: AugmentStep = { op: 'randomErasing', p: erasing.p };
  if (erasing.scale) step.scale = erasing.scale;
  return { train: [...steps.train, step], eval: steps.eval };
}

function augmentKind(
  kind: DataSpec['augment'],
  size: [number, number],
  mean: number[],
  std: number[],
  randAugment: { magnitude?: number | undefined; ops?: number | undefined },
): { train: AugmentStep[]; eval: AugmentStep[] } {
  const normalize: AugmentStep = { op: 'normalize', mean, std };
  const evalSteps: AugmentStep[] = [normalize];
  const light: AugmentStep[] = [
    { op: 'randomResizedCrop', size, scale: [0.6, 1] },
    { op: 'horizontalFlip', p: 0.5 },
  ];
  switch (kind) {
    case 'none':
      return { train: evalSteps, eval: evalSteps };
    case 'light':
      return { train: [...light, normalize], eval: evalSteps };
    case 'randaugment': {
      const policy: AugmentStep = {
        op: 'randAugment',
        numOps: randAugment.ops ?? RAND_AUGMENT_DEFAULTS.ops,
        magnitude: randAugment.magnitude ?? RAND_AUGMENT_DEFAULTS.magnitude,
        numMagnitudeBins: RAND_AUGMENT_DEFAULTS.bins,
      };
      return { train: [...light, policy, normalize], eval: evalSteps };
    }
    case 'autoaugment':
      return { train: [...light, { op: 'autoAugment', policy: 'cifar10' }, normalize], eval: evalSteps };
    case 'supcon':
      return {
        train: [
          { op: 'randomResizedCrop', size, scale: [0.2, 1] },
          { op: 'horizontalFlip', p: 0.5 },
          { op: 'colorJitter', brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 },
          { op: 'randomGrayscale', p: 0.2 },
          normalize,
        ],
        eval: evalSteps,
      };
  }
}
