/**
 * Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (PyTorch 1.13, L2): over all
 * gradients of one update,
 *   n = √(Σ_i ‖g_i‖²);  c = maxNorm / (n + 1e-6);  g_i ← g_i · min(c, 1).
 * One wrapper around any optimiser, so SGD, LARS and Adam(W) clip alike and the trainers need no
 * change: they hand the optimiser the gradients of the whole (global) batch, and it clips those.
 * Below the threshold (c ≥ 1) the gradients go to the wrapped optimiser untouched, as PyTorch's
 * multiplication by 1 leaves them. A non-finite norm scales every gradient to NaN, as PyTorch does
 * by default (error_if_nonfinite=False); the trainer's finite-loss check then stops the run.
 * The wrapper keeps no state of its own: checkpoints hold the wrapped optimiser's state alone.
 *
 * @example
 *   const opt = new ClippedOptimizer(new Adam({ weightDecay: 0.05, decoupled: true }), 1.0);
 *   opt.step(params, grads, 1e-3); // the update of the gradients scaled to global norm <= 1
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { checkStep } from './check.js';
import type { Optimizer, OptimizerState, Parameter } from './types.js';

/** PyTorch's guard against division by a zero norm. */
const EPSILON = 1e-6;

/** The L2 norm of all `grads` taken as one vector (one number read back from the backend). */
export function globalGradNorm(grads: readonly tf.Tensor[]): number {
  if (grads.length === 0) return 0;
  const squared = tf.tidy(() => tf.addN(grads.map((g) => tf.sum(tf.square(g))))); // []
  const sum = squared.dataSync()[0]!;
  squared.dispose();
  return Math.sqrt(sum);
}

export class ClippedOptimizer implements Optimizer {
  readonly kind: string;
  /** The global norm of the last update's gradients, before clipping (undefined before the first). */
  lastNorm: number | undefined;

  constructor(
    readonly inner: Optimizer,
    readonly maxNorm: number,
  ) {
    check(Number.isFinite(maxNorm) && maxNorm > 0, 'clipGradNorm', 'a finite number > 0', maxNorm);
    this.kind = inner.kind;
  }

  step(params: readonly Parameter[], grads: readonly tf.Tensor[], lr: number): void {
    checkStep(params, grads, lr);
    const norm = globalGradNorm(grads);
    this.lastNorm = norm;
    const coefficient = this.maxNorm / (norm + EPSILON);
    if (coefficient >= 1) {
      this.inner.step(params, grads, lr);
      return;
    }
    const clipped = grads.map((g) => tf.mul(g, coefficient)); // each [shape of its parameter]
    try {
      this.inner.step(params, clipped, lr);
    } finally {
      tf.dispose(clipped);
    }
  }

  getState(): OptimizerState {
    return this.inner.getState();
  }

  setState(state: OptimizerState): void {
    this.inner.setState(state);
  }

  dispose(): void {
    this.inner.dispose();
  }
}
