/**
 * Adam (Kingma & Ba 2015), exactly as torch.optim.Adam (L2 weight decay added to the gradient), or
 * as torch.optim.AdamW with `decoupled: true` (p = p·(1 − lr·λ) before the Adam step).
 *   m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;
 *   p = p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε).
 *
 * @example
 *   const opt = new Adam({ weightDecay: 1e-4 });
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { SupconAdamUpdate, type SupconAdamUpdateAttrs } from '../kernels.js';
import { SlotOptimizer } from './base.js';
import { checkRange, checkStep } from './check.js';
import type { Parameter } from './types.js';

export interface AdamOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  epsilon?: number;
  /** λ, default 0. */
  weightDecay?: number;
  /** AdamW's decoupled weight decay instead of L2 in the gradient; default false. */
  decoupled?: boolean;
  /** Parameters that get no weight decay; default none (as PyTorch). */
  excludeFromDecay?: (p: Parameter) => boolean;
}

export class Adam extends SlotOptimizer {
  readonly kind = 'adam';
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  private readonly decoupled: boolean;
  private readonly excludeFromDecay: (p: Parameter) => boolean;
  constructor(options: AdamOptions = {}) {
    super();
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.decoupled = options.decoupled ?? false;
    this.excludeFromDecay = options.excludeFromDecay ?? (() => false);
    checkRange('beta1', this.beta1, 0, 1, true);
    checkRange('beta2', this.beta2, 0, 1, true);
    check(Number.isFinite(this.epsilon) && this.epsilon > 0, 'epsilon', 'a finite number > 0', this.epsilon);
    checkRange('weightDecay', this.weightDecay, 0);
  }

  step(params: readonly Parameter[], grads: readonly tf.Tensor[], lr: number): void {
    checkStep(params, grads, lr);
    const t = this.steps + 1;
    const correction1 = 1 - this.beta1 ** t;
    const correction2 = 1 - this.beta2 ** t;
    params.forEach((p, i) => {
      tf.tidy(() => {
        const decay = this.excludeFromDecay(p) ? 0 : this.weightDecay;
        const attrs: SupconAdamUpdateAttrs = {
          lr,
          beta1: this.beta1,
          beta2: this.beta2,
          epsilon: this.epsilon,
          weightDecay: decay,
          decoupled: this.decoupled,
          correction1,
          correction2,
        };
        if (this.fused(SupconAdamUpdate, p, grads[i]!, ['m', 'v'], attrs)) return;
        let g = grads[i]!;
        let w: tf.Tensor = p.variable;
        if (decay > 0 && this.decoupled) w = tf.mul(w, 1 - lr * decay);
        else if (decay > 0) g = tf.add(g, tf.mul(w, decay));
        const mKey = `${p.name}/m`;
        const vKey = `${p.name}/v`;
        const mOld = this.slots.get(mKey);
        const vOld = this.slots.get(vKey);
        const m = tf.add(mOld ? tf.mul(mOld, this.beta1) : tf.zerosLike(g), tf.mul(g, 1 - this.beta1));
        const v = tf.add(
          vOld ? tf.mul(vOld, this.beta2) : tf.zerosLike(g),
          tf.mul(tf.square(g), 1 - this.beta2),
        );
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(correction2)), this.epsilon);
        const next = tf.sub(w, tf.mul(tf.div(m, denom), lr / correction1));
        this.slots.set(mKey, tf.keep(m));
        this.slots.set(vKey, tf.keep(v));
        p.variable.assign(next);
      });
    });
    this.steps = t;
  }
}
