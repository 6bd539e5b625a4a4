/**
 * SGD with momentum, optional Nesterov momentum and L2 weight decay, exactly as torch.optim.SGD:
 *   d = g + λ·p;  b = μ·b + (1 − dampening)·d  (b = d on the first step);
 *   d = nesterov ? d + μ·b : b;  p = p − lr·d.
 * Unlike PyTorch, parameters can be excluded from weight decay (`excludeFromDecay`), as the SupCon
 * and SimCLR recipes do for BatchNorm and biases.
 *
 * @example
 *   const opt = new SGD({ momentum: 0.9, weightDecay: 1e-4 });
 *   opt.step(params, grads, 0.05);
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { SupconSgdUpdate, type SupconSgdUpdateAttrs } from '../kernels.js';
import { SlotOptimizer } from './base.js';
import { checkRange, checkStep } from './check.js';
import type { Parameter } from './types.js';

export interface SGDOptions {
  /** μ, default 0 (plain SGD). */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  /** Nesterov momentum, default false; needs momentum > 0 and dampening 0. */
  nesterov?: boolean;
  /** λ (L2 added to the gradient), default 0. */
  weightDecay?: number;
  /** Parameters that get no weight decay; default none (as PyTorch). */
  excludeFromDecay?: (p: Parameter) => boolean;
}

export class SGD extends SlotOptimizer {
  readonly kind = 'sgd';
  private readonly momentum: number;
  private readonly dampening: number;
  private readonly nesterov: boolean;
  private readonly weightDecay: number;
  private readonly excludeFromDecay: (p: Parameter) => boolean;
  constructor(options: SGDOptions = {}) {
    super();
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    this.excludeFromDecay = options.excludeFromDecay ?? (() => false);
    checkRange('momentum', this.momentum, 0, 1, true);
    checkRange('dampening', this.dampening, 0, 1);
    checkRange('weightDecay', this.weightDecay, 0);
    check(
      !this.nesterov || (this.momentum > 0 && this.dampening === 0),
      'nesterov',
      'momentum > 0 and dampening 0 when nesterov is true',
      `momentum=${this.momentum}, dampening=${this.dampening}`,
    );
  }

  step(params: readonly Parameter[], grads: readonly tf.Tensor[], lr: number): void {
    checkStep(params, grads, lr);
    params.forEach((p, i) => {
      const g = grads[i]!;
      tf.tidy(() => {
        const decay = this.excludeFromDecay(p) ? 0 : this.weightDecay;
        const attrs: SupconSgdUpdateAttrs = {
          lr,
          momentum: this.momentum,
          dampening: this.dampening,
          weightDecay: decay,
          nesterov: this.nesterov,
        };
        if (this.fused(SupconSgdUpdate, p, g, this.momentum > 0 ? ['momentum'] : [], attrs)) return;
        let d = decay > 0 ? tf.add(g, tf.mul(p.variable, decay)) : g;
        if (this.momentum > 0) {
          const key = `${p.name}/momentum`;
          const old = this.slots.get(key);
          const damped = this.dampening === 0 ? d : tf.mul(d, 1 - this.dampening);
          const buf = old ? tf.add(tf.mul(old, this.momentum), damped) : tf.clone(d);
          d = this.nesterov ? tf.add(d, tf.mul(buf, this.momentum)) : buf;
          this.slots.set(key, tf.keep(buf));
        }
        p.variable.assign(tf.sub(p.variable, tf.mul(d, lr)));
      });
    });
    this.steps++;
  }
}
