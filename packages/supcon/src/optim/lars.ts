/**
 * LARS (You et al. 2017, "Large Batch Training of Convolutional Networks"), in the form of SimCLR
 * and the official SupCon code. For each parameter that is adapted:
 *   g = g + λ·p;  trust = η·‖p‖ / ‖g‖  (1 when either norm is 0);
 *   v = μ·v + lr·trust·g;  p = p − (nesterov ? μ·v + lr·trust·g : v).
 * Parameters for which `exclude` is true (default: BatchNorm and biases) get neither weight decay
 * nor the trust ratio, only momentum SGD.
 *
 * @example
 *   const opt = new LARS({ momentum: 0.9, weightDecay: 1e-6 });  // lr = 0.3·batch/256 in SimCLR
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { SupconLarsUpdate, type SupconLarsUpdateAttrs } from '../kernels.js';
import { SlotOptimizer } from './base.js';
import { checkRange, checkStep } from './check.js';
import { isBatchNormOrBias, type Parameter } from './types.js';

export interface LARSOptions {
  /** μ, default 0.9. */
  momentum?: number;
  /** λ, default 0. */
  weightDecay?: number;
  /** η, the trust coefficient, default 0.001. */
  trustCoefficient?: number;
  /** Default false. */
  nesterov?: boolean;
  /** Parameters left out of adaptation and weight decay; default: rank <= 1 (BatchNorm, biases). */
  exclude?: (p: Parameter) => boolean;
}

export class LARS extends SlotOptimizer {
  readonly kind = 'lars';
  private readonly momentum: number;
  private readonly weightDecay: number;
  private readonly eta: number;
  private readonly nesterov: boolean;
  private readonly exclude: (p: Parameter) => boolean;
  constructor(options: LARSOptions = {}) {
    super();
    this.momentum = options.momentum ?? 0.9;
    this.weightDecay = options.weightDecay ?? 0;
    this.eta = options.trustCoefficient ?? 0.001;
    this.nesterov = options.nesterov ?? false;
    this.exclude = options.exclude ?? isBatchNormOrBias;
    checkRange('momentum', this.momentum, 0, 1, true);
    checkRange('weightDecay', this.weightDecay, 0);
    check(Number.isFinite(this.eta) && this.eta > 0, 'trustCoefficient', 'a finite number > 0', this.eta);
  }

  step(params: readonly Parameter[], grads: readonly tf.Tensor[], lr: number): void {
    checkStep(params, grads, lr);
    params.forEach((p, i) => {
      const raw = grads[i]!;
      tf.tidy(() => {
        const adapt = !this.exclude(p);
        const attrs: SupconLarsUpdateAttrs = {
          lr,
          momentum: this.momentum,
          weightDecay: this.weightDecay,
          trustCoefficient: this.eta,
          nesterov: this.nesterov,
          adapt,
        };
        if (this.fused(SupconLarsUpdate, p, raw, ['momentum'], attrs)) return;
        let g = raw;
        let scaledLr: tf.Scalar = tf.scalar(lr);
        if (adapt) {
          if (this.weightDecay > 0) g = tf.add(g, tf.mul(p.variable, this.weightDecay));
          const wNorm = tf.norm(p.variable);
          const gNorm = tf.norm(g);
          const ratio = tf.div(tf.mul(wNorm, this.eta), tf.maximum(gNorm, 1e-30));
          const usable = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(gNorm, 0));
          scaledLr = tf.mul(tf.where(usable, ratio, tf.onesLike(ratio)), lr) as tf.Scalar;
        }
        const key = `${p.name}/momentum`;
        const old = this.slots.get(key);
        const step = tf.mul(g, scaledLr);
        const v = old ? tf.add(tf.mul(old, this.momentum), step) : step;
        const update = this.nesterov ? tf.add(tf.mul(v, this.momentum), step) : v;
        this.slots.set(key, tf.keep(tf.clone(v)));
        p.variable.assign(tf.sub(p.variable, update));
      });
    });
    this.steps++;
  }
}
