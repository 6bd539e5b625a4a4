/** Builds an optimiser from a plain config (CLI flags, config files, checkpoints). */
import { check } from '../errors.js';
import { Adam } from './adam.js';
import { ClippedOptimizer } from './clip.js';
import { LARS } from './lars.js';
import { SGD } from './sgd.js';
import { isExcludedFromDecay, type Optimizer } from './types.js';

export const OPTIMIZERS = ['sgd', 'lars', 'adam'] as const;
export type OptimizerKind = (typeof OPTIMIZERS)[number];

export interface OptimizerConfig {
  kind: OptimizerKind;
  /** SGD and LARS, default 0.9. */
  momentum?: number;
  nesterov?: boolean;
  /** SGD, default 0. */
  dampening?: number;
  weightDecay?: number;
  /**
   * Exclude BatchNorm/LayerNorm parameters, biases and the ViT's position embeddings and class token
   * from weight decay (SGD, Adam; `isExcludedFromDecay`); LARS always excludes them. Default true.
   */
  excludeBatchNormAndBias?: boolean;
  /** LARS η, default 0.001. */
  trustCoefficient?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  decoupled?: boolean;
  /**
   * Clip the gradients of every update to this global L2 norm first (clip.ts, as
   * torch.nn.utils.clip_grad_norm_), whatever the optimiser. Absent: no clipping (not stored).
   */
  clipGradNorm?: number;
}

export function createOptimizer(config: OptimizerConfig): Optimizer {
  const optimizer = createUnclipped(config);
  return config.clipGradNorm === undefined ? optimizer : new ClippedOptimizer(optimizer, config.clipGradNorm);
}

function createUnclipped(config: OptimizerConfig): Optimizer {
  check(OPTIMIZERS.includes(config.kind), 'optimizer', `one of ${OPTIMIZERS.join(', ')}`, config.kind);
  const exclude = (config.excludeBatchNormAndBias ?? true) ? isExcludedFromDecay : () => false;
  switch (config.kind) {
    case 'sgd':
      return new SGD({
        momentum: config.momentum ?? 0.9,
        nesterov: config.nesterov ?? false,
        dampening: config.dampening ?? 0,
        weightDecay: config.weightDecay ?? 0,
        excludeFromDecay: exclude,
      });
    case 'lars':
      return new LARS({
        momentum: config.momentum ?? 0.9,
        nesterov: config.nesterov ?? false,
        weightDecay: config.weightDecay ?? 0,
        trustCoefficient: config.trustCoefficient ?? 0.001,
        exclude: isExcludedFromDecay,
      });
    case 'adam':
      return new Adam({
        beta1: config.beta1 ?? 0.9,
        beta2: config.beta2 ?? 0.999,
        epsilon: config.epsilon ?? 1e-8,
        weightDecay: config.weightDecay ?? 0,
        decoupled: config.decoupled ?? false,
        excludeFromDecay: exclude,
      });
  }
}
