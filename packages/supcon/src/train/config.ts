/**
 * Everything a training run is configured by, with its defaults and the reasons for them.
 * The three methods share every field; only `method` (head and loss) and their defaults differ.
 */
import { check } from '../errors.js';
import { OPTIMIZERS, type OptimizerConfig } from '../optim/factory.js';
import { DECAYS, type Decay } from '../optim/schedule.js';
import { resolveMixConfig } from './mix.js';
import { SAMPLERS, type SamplerKind } from './sampler.js';

export const METHODS = ['supcon', 'simclr', 'ce'] as const;
export type Method = (typeof METHODS)[number];

export interface TrainConfig {
  method: Method;
  epochs: number;
  batchSize: number;
  /** Augmented views per image: 2 for supcon/simclr (the paper), 1 for ce. */
  views: number;
  /** τ: 0.1 for supcon (the paper's choice), 0.5 for simclr (the reference's CIFAR recipe). */
  temperature: number;
  /**
   * Loss scale τ / baseTemperature. Absent means τ (scale 1), decided in one place, the loss's
   * `temperatureScale`: storing τ's value here would leave a stale base behind when τ changes.
   */
  baseTemperature?: number;
  optimizer: OptimizerConfig;
  /** Peak learning rate (before batch scaling). */
  lr: number;
  decay: Decay;
  /** Linear warm-up in epochs (fractions allowed; converted to iterations). */
  warmupEpochs: number;
  minLr: number;
  /** Step decay epochs. */
  milestones: number[];
  gamma: number;
  /** lr · batchSize / 256 (the reference's large-batch rule). */
  scaleWithBatch: boolean;
  /** Seed of weights, data order and augmentation. */
  seed: number;
  /**
   * supcon/simclr: contrast each batch also against this many embeddings of earlier steps kept in a
   * FeatureQueue (0 = off). See `supConQueueLoss`.
   */
  queueSize: number;
  /**
   * Gradient caching: encode the batch's views this many images at a time (0 = all at once), so a
   * large batch fits in small memory; the loss still sees the whole batch. See `cachedGradients`.
   */
  chunkRows: number;
  /**
   * How batches are drawn (sampler.ts): 'random' (absent: a seeded permutation) or 'balanced'
   * (`samplesPerClass` samples of each of batchSize / samplesPerClass classes in every batch, so every
   * anchor has positives). Absent means 'random' and is not stored, so older config.json files read alike.
   */
  sampler?: SamplerKind;
  /** 'balanced' only (and then required): m, a divisor of batchSize, at most the smallest class. */
  samplesPerClass?: number;
  /**
   * supcon/simclr: also train a linear classifier on the detached encoder features in every step
   * (joint-probe.ts), the encoder's gradient unchanged. Absent means false and is not stored.
   */
  jointProbe?: boolean;
  /**
   * With several data-parallel ranks, normalise BatchNorm with the statistics of the whole global batch
   * (SyncBatchNorm, sync_batch_norm.ts) instead of each rank's shard. A no-op in one process, where the
   * shard is the batch. Absent means false and is not stored.
   */
  syncBatchNorm?: boolean;
  /**
   * ce: label smoothing ε in [0, 1) of the cross-entropy target, (1 − ε)·onehot + ε/C (loss.ts; the ViT
   * recipes use 0.1). Absent means 0 and is not stored, so older config.json files read alike.
   */
  labelSmoothing?: number;
  /**
   * With a memory queue (queueSize > 0): fill it from a momentum (key) encoder, an exponential moving
   * average θk ← m·θk + (1 − m)·θq of the encoder and head (momentum.ts, MoCo's key encoder), instead
   * of the online networks' own outputs. m in (0, 1), e.g. 0.99. Absent means off and is not stored.
   */
  queueMomentum?: number;
  /**
   * ce: mix each batch with a shuffled copy of itself, images and targets, λ ~ Beta(α, α) (mix.ts;
   * mixup, Zhang et al. 2018). α > 0, e.g. 0.2 (the ViT recipes: 0.8). Absent means off.
   */
  mixupAlpha?: number;
  /**
   * ce: paste a box of area fraction about 1 − λ, λ ~ Beta(α, α), from a shuffled copy of the batch
   * (mix.ts; CutMix, Yun et al. 2019). α > 0, e.g. 1. With mixupAlpha too, each mixed batch is one or
   * the other with probability ½. Absent means off.
   */
  cutmixAlpha?: number;
  /** With mixupAlpha or cutmixAlpha: the probability that a batch is mixed, in (0, 1]. Absent means 1. */
  mixProb?: number;
}

export function defaultConfig(method: Method = 'supcon'): TrainConfig {
  return {
    method,
    epochs: 10,
    batchSize: 256,
    views: method === 'ce' ? 1 : 2,
    temperature: method === 'simclr' ? 0.5 : 0.1,
    optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 },
    lr: method === 'ce' ? 0.1 : 0.5,
    decay: 'cosine',
    warmupEpochs: 0,
    minLr: 0,
    milestones: [],
    gamma: 0.1,
    scaleWithBatch: false,
    seed: 0,
    queueSize: 0,
    chunkRows: 0,
  };
}

/** Fills defaults for `method` and validates every field (InvalidArgumentError naming it). */
export function resolveConfig(partial: Partial<TrainConfig>): TrainConfig {
  const method = partial.method ?? 'supcon';
  check(METHODS.includes(method), 'method', `one of ${METHODS.join(', ')}`, method);
  const base = defaultConfig(method);
  const c: TrainConfig = { ...base, ...partial, optimizer: { ...base.optimizer, ...partial.optimizer } };
  // A base equal to τ is the default, so it is not stored (config.json files that hold it still load).
  if (c.baseTemperature === undefined || c.baseTemperature === c.temperature) delete c.baseTemperature;
  const posInt = (name: keyof TrainConfig, v: number) =>
    check(Number.isInteger(v) && v > 0, name, 'a positive integer', v);
  posInt('epochs', c.epochs);
  posInt('batchSize', c.batchSize);
  posInt('views', c.views);
  check(
    c.method === 'ce' || c.views >= 2 || c.method === 'supcon',
    'views',
    'at least 2 for simclr',
    c.views,
  );
  check(
    Number.isFinite(c.temperature) && c.temperature > 0,
    'temperature',
    'a finite number > 0',
    c.temperature,
  );
  const tauBase = c.baseTemperature;
  check(
    tauBase === undefined || (Number.isFinite(tauBase) && tauBase > 0),
    'baseTemperature',
    'a finite number > 0',
    tauBase,
  );
  check(Number.isFinite(c.lr) && c.lr >= 0, 'lr', 'a finite number >= 0', c.lr);
  check(Number.isFinite(c.minLr) && c.minLr >= 0, 'minLr', 'a finite number >= 0', c.minLr);
  check(DECAYS.includes(c.decay), 'decay', `one of ${DECAYS.join(', ')}`, c.decay);
  check(
    OPTIMIZERS.includes(c.optimizer.kind),
    'optimizer',
    `one of ${OPTIMIZERS.join(', ')}`,
    c.optimizer.kind,
  );
  check(
    Number.isFinite(c.warmupEpochs) && c.warmupEpochs >= 0 && c.warmupEpochs < c.epochs,
    'warmupEpochs',
    `a number in [0, epochs=${c.epochs})`,
    c.warmupEpochs,
  );
  const clip = c.optimizer.clipGradNorm;
  check(
    clip === undefined || (Number.isFinite(clip) && clip > 0),
    'optimizer.clipGradNorm',
    'a finite number > 0 (the global gradient norm to clip to; absent: no clipping)',
    clip,
  );
  check(Number.isInteger(c.seed), 'seed', 'an integer', c.seed);
  check(Number.isInteger(c.queueSize) && c.queueSize >= 0, 'queueSize', 'an integer >= 0', c.queueSize);
  check(
    c.queueSize === 0 || c.method !== 'ce',
    'queueSize',
    '0 for the ce method (the queue is a contrastive-loss option)',
    c.queueSize,
  );
  check(Number.isInteger(c.chunkRows) && c.chunkRows >= 0, 'chunkRows', 'an integer >= 0', c.chunkRows);
  resolveSampler(c);
  if (c.jointProbe === false) delete c.jointProbe;
  if (c.syncBatchNorm === false) delete c.syncBatchNorm;
  if (c.labelSmoothing === 0) delete c.labelSmoothing;
  if (c.queueMomentum === 0) delete c.queueMomentum;
  const m = c.queueMomentum;
  check(
    m === undefined || (Number.isFinite(m) && m > 0 && m < 1),
    'queueMomentum',
    "a number in (0, 1) (the key encoder's EMA momentum, e.g. 0.99; 0 or absent: off)",
    m,
  );
  check(
    m === undefined || c.queueSize > 0,
    'queueMomentum',
    'no value without a memory queue (queueSize > 0): the key encoder fills the queue',
    m,
  );
  const epsilon = c.labelSmoothing;
  check(
    epsilon === undefined || (Number.isFinite(epsilon) && epsilon >= 0 && epsilon < 1),
    'labelSmoothing',
    'a number in [0, 1)',
    epsilon,
  );
  check(
    epsilon === undefined || c.method === 'ce',
    'labelSmoothing',
    'no value for the supcon and simclr methods (label smoothing is a cross-entropy option)',
    epsilon,
  );
  resolveMixConfig(c);
  check(
    c.jointProbe === undefined || c.method !== 'ce',
    'jointProbe',
    'false for the ce method (its classifier head is already trained on the labels)',
    c.jointProbe,
  );
  return c;
}

/** The defaults of the sampler fields are not stored: 'random' is removed, m is required by 'balanced' only. */
function resolveSampler(c: TrainConfig): void {
  if (c.sampler === 'random') delete c.sampler;
  const sampler = c.sampler ?? 'random';
  check(SAMPLERS.includes(sampler), 'sampler', `one of ${SAMPLERS.join(', ')}`, c.sampler);
  const m = c.samplesPerClass;
  if (sampler === 'random') {
    check(
      m === undefined,
      'samplesPerClass',
      "no value with sampler 'random' (only the balanced sampler takes samples per class)",
      m,
    );
    return;
  }
  check(
    m !== undefined && Number.isInteger(m) && m > 0,
    'samplesPerClass',
    "a positive integer with sampler 'balanced' (the samples of each class in every batch)",
    m,
  );
  check(c.batchSize % m === 0, 'samplesPerClass', `a divisor of batchSize=${c.batchSize}`, m);
}
