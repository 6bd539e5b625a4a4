/**
 * What every optimiser shares: the parameters it updates, its state for checkpoints, and the rule
 * that picks the parameters excluded from weight decay and from LARS adaptation.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A trainable variable with a stable name (the key of its optimiser state in checkpoints). */
export interface Parameter {
  name: string;
  variable: tf.Variable;
}

/** Optimiser state as plain arrays, so it can be written to a checkpoint and read back exactly. */
export interface OptimizerState {
  kind: string;
  /** Number of updates applied so far (Adam's bias correction depends on it). */
  step: number;
  /** One entry per slot, keyed `<parameter name>/<slot>`. */
  slots: Record<string, { shape: number[]; values: Float32Array }>;
}

export interface Optimizer {
  readonly kind: string;
  /** Applies one update: `grads[i]` is the gradient of `params[i]`; `lr` is this iteration's learning rate. */
  step(params: readonly Parameter[], grads: readonly tf.Tensor[], lr: number): void;
  getState(): OptimizerState;
  setState(state: OptimizerState): void;
  dispose(): void;
}

/**
 * The usual rule (SimCLR, SupCon's LARS): BatchNorm scales and shifts and biases are vectors,
 * weights of convolutions and dense layers are not. Rank <= 1 catches exactly those.
 */
export function isBatchNormOrBias(p: Parameter): boolean {
  return p.variable.rank <= 1;
}

/**
 * The ViT's learned embeddings (vit.ts names them `pos_embed` and `cls_token`, under any prefix such as
 * the trainer's `encoder/`): the transformer recipes (DeiT, timm's AdamW) leave them out of weight
 * decay, as norms and biases, since decaying them pulls every position towards the same embedding.
 */
const EMBEDDING = /(^|\/)(pos_embed|cls_token)$/;

/**
 * The parameters every optimiser leaves out of weight decay by default (`excludeBatchNormAndBias`,
 * and LARS's adaptation): BatchNorm and LayerNorm scales and shifts and biases (rank <= 1), and the
 * ViT's position embeddings and class token (by name).
 */
export function isExcludedFromDecay(p: Parameter): boolean {
  return isBatchNormOrBias(p) || EMBEDDING.test(p.name);
}

/** Keeps per-parameter slot variables (momentum buffers, Adam moments) and their (de)serialisation. */
export class Slots {
  private readonly vars = new Map<string, tf.Variable>();

  get(key: string): tf.Variable | undefined {
    return this.vars.get(key);
  }

  /** Stores `value` (kept, not copied) as the slot's variable, creating it on first use. */
  set(key: string, value: tf.Tensor): void {
    const existing = this.vars.get(key);
    if (existing) {
      existing.assign(value);
      value.dispose();
    } else {
      this.vars.set(key, tf.variable(value, false, undefined, 'float32'));
      value.dispose();
    }
  }

  export(): OptimizerState['slots'] {
    const out: OptimizerState['slots'] = {};
    for (const [key, v] of this.vars)
      out[key] = { shape: [...v.shape], values: new Float32Array(v.dataSync()) };
    return out;
  }

  import(slots: OptimizerState['slots']): void {
    this.dispose();
    for (const [key, s] of Object.entries(slots)) {
      const value = tf.tensor(s.values, s.shape, 'float32');
      this.vars.set(key, tf.variable(value, false));
      value.dispose(); // the variable holds the data; the temporary would keep a second reference
    }
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
