/**
 * What SGD, LARS and Adam share: slot variables, the step counter, checkpoint state, and the
 * call into a backend's fused in-place update kernel when the active backend registers one
 * (declared in kernels.ts: `SupconSgdUpdate`, `SupconLarsUpdate`, `SupconAdamUpdate`; the native
 * engine implements them). Other backends take each optimiser's tfjs-op path.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import type { OptimizerKernelName, SupconKernels } from '../kernels.js';
import type { Optimizer, OptimizerState, Parameter } from './types.js';
import { Slots } from './types.js';

export abstract class SlotOptimizer implements Optimizer {
  abstract readonly kind: string;
  protected readonly slots = new Slots();
  /** Number of updates applied so far. */
  protected steps = 0;

  abstract step(params: readonly Parameter[], grads: readonly tf.Tensor[], lr: number): void;

  getState(): OptimizerState {
    return { kind: this.kind, step: this.steps, slots: this.slots.export() };
  }

  setState(state: OptimizerState): void {
    check(state.kind === this.kind, 'state.kind', `"${this.kind}"`, state.kind);
    this.slots.import(state.slots);
    this.steps = state.step;
  }

  dispose(): void {
    this.slots.dispose();
  }

  /**
   * Runs the fused update kernel `kernelName` on `p` and its slots `slotNames` (keys
   * `<param>/<slot>`), if the active backend has that kernel; returns false when it does not.
   * The kernel updates in place and returns nothing, or returns the new [param, ...slots].
   */
  protected fused<K extends OptimizerKernelName>(
    kernelName: K,
    p: Parameter,
    grad: tf.Tensor,
    slotNames: readonly string[],
    attrs: SupconKernels[K]['attrs'],
  ): boolean {
    if (!tf.getKernel(kernelName, tf.getBackend())) return false;
    const inputs: tf.NamedTensorMap = { param: p.variable, grad };
    for (const name of slotNames) {
      const slot = this.slots.get(`${p.name}/${name}`);
      if (slot) inputs[name] = slot;
    }
    const outs = tf.engine().runKernel(kernelName, inputs, { ...attrs }) as unknown as tf.Tensor[];
    if (outs.length > 0) {
      p.variable.assign(outs[0]!);
      outs[0]!.dispose();
      for (const [i, name] of slotNames.entries()) this.slots.set(`${p.name}/${name}`, outs[i + 1]!);
    }
    return true;
  }
}
