/**
 * A run's full specification (what `supcon train` writes to `config.json`), its presets, and the
 * construction of models and data from it. Every default carries its reason.
 */
import {
  type AugmentStep,
  check,
  createProjectionHead,
  type EncoderArchitecture,
  type HeadArchitecture,
  linearClassifier,
  mlpEncoder,
  type Network,
  projectionHead,
  projectionHeadForward,
  RESNET_STEMS,
  type ResNetStem,
  resNetEncoder,
  resolveConfig,
  smallResNet,
  type TrainConfig,
} from 'supcon';

export const ENCODERS = ['small-resnet', 'mlp', 'resnet18', 'resnet34', 'resnet50'] as const;
export type EncoderKind = (typeof ENCODERS)[number];
const RESNET_DEPTH = { resnet18: 18, resnet34: 34, resnet50: 50 } as const;
export const AUGMENTS = ['light', 'supcon', 'none'] as const;
/**
 * The native engine's compute precisions (its `PRECISIONS`; @supcon/node does not depend on the
 * engine, the CLI checks at compile time that the two lists agree).
 */
export const PRECISIONS = ['fp32', 'bf16'] as const;
export type RunPrecision = (typeof PRECISIONS)[number];

export interface ModelSpec {
  encoder: EncoderKind;
  /** small-resnet: first-stage width (stages w, 2w, 4w). The ResNets use `widthMultiplier`. */
  width: number;
  blocksPerStage: number;
  /** small-resnet: 2 makes every feature map 4× smaller (for slow backends). */
  stemStride: 1 | 2;
  /** mlp: hidden widths. */
  hidden: number[];
  /** resnet18/34/50: 'cifar' (3×3 stride 1, no max-pool; default) or 'imagenet' (7×7 stride 2 + max-pool). */
  stem?: ResNetStem;
  /** resnet18/34/50: channel multiplier (64·m in the first stage, features 512·m or 2048·m); default 1. */
  widthMultiplier?: number;
  projection: 'mlp' | 'linear';
  projectionDim: number;
  normalizeEncoderOutput: boolean;
}

export interface DataSpec {
  /** NAME[:PATH] as `supcon data` understands it. */
  dataset: string;
  /** Training samples held out for model selection (never the test set). */
  validation: number;
  /** Use only the first N training samples (after the split), 0 = all. */
  limit: number;
  /** 'light': crop (scale 0.6–1) + flip, suited to 28×28 greyscale; 'supcon': the paper's CIFAR recipe. */
  augment: (typeof AUGMENTS)[number];
  /** `folder:` datasets only: images are resized to size × size (resolveRunSpec writes the default, 32). */
  size?: number;
  /** `folder:` datasets only: decode to one channel (resolveRunSpec writes the default, false). */
  grayscale?: boolean;
}

export interface RunSpec {
  train: TrainConfig;
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

export const PRESETS = ['fashion-quick', 'cifar-paper'] as const;
export type Preset = (typeof PRESETS)[number];

/**
 * fashion-quick: what `supcon demo` runs, sized for a 2-core CPU in minutes: a width-16 small ResNet
 * with a stride-2 stem (maps 14×14 → 7×7 → 4×4), batch 256, 10 epochs (about 30 s each on the native
 * engine on an idle 2-core machine), SGD lr 0.1 with a short warm-up.
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
        encoder: 'resnet18',
        width: 64,
        blocksPerStage: 2,
        stemStride: 1,
        stem: 'cifar',
        widthMultiplier: 1,
        hidden: [],
        projection: 'mlp',
        projectionDim: 128,
        normalizeEncoderOutput: false,
      },
      data: { dataset: 'cifar10', validation: 5000, limit: 0, augment: 'supcon' },
      checkpointEvery: 50,
      knnK: 200,
      probeEpochs: 100,
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
      encoder: 'small-resnet',
      width: 16,
      blocksPerStage: 1,
      stemStride: 2,
      hidden: [512, 256],
      projection: 'mlp',
      projectionDim: 128,
      normalizeEncoderOutput: false,
    },
    data: { dataset: 'fashion-mnist', validation: 5000, limit: 0, augment: 'light' },
    checkpointEvery: 50,
    knnK: 0,
    probeEpochs: 20,
  };
}

export function buildEncoder(model: ModelSpec, shape: [number, number, number], seed: number): Network {
  switch (model.encoder) {
    case 'small-resnet':
      return smallResNet({
        channels: shape[2],
        width: model.width,
        blocksPerStage: model.blocksPerStage,
        stemStride: model.stemStride,
        seed,
      });
    case 'mlp':
      return mlpEncoder({ inputDim: shape[0] * shape[1] * shape[2], hidden: model.hidden, seed });
    case 'resnet18':
    case 'resnet34':
    case 'resnet50':
      return resNetEncoder({ ...resNetSpec(model), inChannels: shape[2], seed });
    default:
      check(false, 'model.encoder', `one of ${ENCODERS.join(', ')}`, model.encoder);
  }
}

function isResNet(encoder: EncoderKind): encoder is keyof typeof RESNET_DEPTH {
  return encoder in RESNET_DEPTH;
}

/** The ResNet options of a model spec, validated with the spec's own names. */
function resNetSpec(model: ModelSpec): { depth: 18 | 34 | 50; stem: ResNetStem; width: number } {
  const stem = model.stem ?? 'cifar';
  const width = model.widthMultiplier ?? 1;
  check(RESNET_STEMS.includes(stem), 'model.stem', '"cifar" or "imagenet"', stem);
  check(
    typeof width === 'number' && width > 0 && Number.isInteger(64 * width),
    'model.widthMultiplier',
    'a positive number with 64·widthMultiplier a whole number (e.g. 0.25, 0.5, 1, 2)',
    width,
  );
  return { depth: RESNET_DEPTH[model.encoder as keyof typeof RESNET_DEPTH], stem, width };
}

/** The structure of a spec's encoder, for `toLayersModel` (export to the TensorFlow.js layers format). */
export function encoderArchitecture(model: ModelSpec): EncoderArchitecture {
  if (isResNet(model.encoder)) {
    const { depth, stem } = resNetSpec(model);
    return { kind: 'resnet', depth, stem };
  }
  if (model.encoder === 'mlp') return { kind: 'mlp', layers: model.hidden.length };
  return { kind: 'small-resnet', blocksPerStage: model.blocksPerStage, stemStride: model.stemStride };
}

/** The structure of a spec's head (the classifier for `ce`, else the projection head). */
export function headArchitecture(spec: RunSpec): HeadArchitecture {
  if (spec.train.method === 'ce') return { kind: 'classifier' };
  const resnetHead = usesResNetHead(spec);
  return {
    kind: 'projection',
    projection: spec.model.projection,
    normalizeInput: resnetHead ? false : spec.model.normalizeEncoderOutput,
  };
}

/** The ResNets keep resnet.ts's SupCon MLP head (and its variable names) when it fits the spec. */
function usesResNetHead(spec: RunSpec): boolean {
  return (
    spec.train.method !== 'ce' &&
    isResNet(spec.model.encoder) &&
    spec.model.projection === 'mlp' &&
    !spec.model.normalizeEncoderOutput
  );
}

export function buildHead(spec: RunSpec, inputDim: number, classes: number): Network {
  const seed = spec.train.seed + 1;
  if (spec.train.method === 'ce') return linearClassifier({ inputDim, classes, seed });
  if (usesResNetHead(spec)) {
    const head = createProjectionHead({ inDim: inputDim, outDim: spec.model.projectionDim, seed });
    const vars = [head.w1, head.b1, head.w2, head.b2].map((v) => ({ name: v.name, variable: v }));
    return {
      apply: (x) => projectionHeadForward(head, x as import('@tensorflow/tfjs-core').Tensor2D),
      outputDim: spec.model.projectionDim,
      parameters: () => [...vars],
      variables: () => [...vars],
    };
  }
  return projectionHead({
    inputDim,
    outputDim: spec.model.projectionDim,
    kind: spec.model.projection,
    normalizeInput: spec.model.normalizeEncoderOutput,
    seed,
  });
}

/** Augmentation steps for training, and the deterministic steps for evaluation. */
export function augmentSteps(
  kind: DataSpec['augment'],
  size: [number, number],
  mean: number[],
  std: number[],
): { train: AugmentStep[]; eval: AugmentStep[] } {
  const normalize: AugmentStep = { op: 'normalize', mean, std };
  const evalSteps: AugmentStep[] = [normalize];
  switch (kind) {
    case 'none':
      return { train: evalSteps, eval: evalSteps };
    case 'light':
      return {
        train: [
          { op: 'randomResizedCrop', size, scale: [0.6, 1] },
          { op: 'horizontalFlip', p: 0.5 },
          normalize,
        ],
        eval: evalSteps,
      };
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
