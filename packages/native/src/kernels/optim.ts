/**
 * Fused optimiser updates (`SupconSgdUpdate`, `SupconLarsUpdate`, `SupconAdamUpdate`): one native
 * pass per parameter that updates the parameter and its slot buffers in place, used by the
 * optimisers in packages/supcon/src/optim when the active backend has them (the kernel names are
 * shared by convention, like the batch norm's).
 *
 * Contract: inputs are the parameter, its gradient and its slots (a slot is absent before the
 * first step). When the parameter and every slot are present and their storage may be written in
 * place (`inPlace`), the kernel updates them and returns no tensors. Otherwise (first step, or
 * storage shared with another tensor or handed out by dataSync) it returns fresh tensors in the
 * input order [param, ...slots] holding the updated values, and the caller assigns them.
 */
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { f32, inPlace, type NativeKernel, output } from './util.js';

export const SGD_UPDATE = 'SupconSgdUpdate';
export const LARS_UPDATE = 'SupconLarsUpdate';
export const ADAM_UPDATE = 'SupconAdamUpdate';

/**
 * The state tensors' storage to update: in place when possible, else fresh copies (a missing
 * slot gets uninitialised storage, which the first-step update writes without reading).
 */
function state(
  backend: MathBackendCPU,
  kernel: string,
  param: TensorInfo,
  slots: (TensorInfo | undefined)[],
): { values: Float32Array[]; outputs: (() => TensorInfo)[] } {
  const present = [param, ...slots];
  const direct = present.map((t) => (t ? inPlace(backend, t) : null));
  if (direct.every((v) => v !== null)) return { values: direct as Float32Array[], outputs: [] };
  const values: Float32Array[] = [];
  const outputs: (() => TensorInfo)[] = [];
  for (const t of present) {
    const [v, make] = output(backend, [...param.shape]);
    if (t) {
      const source = f32(backend, t);
      if (!source || source.length !== v.length) {
        throw new Error(
          `${kernel}: expected float32 state of shape [${param.shape}], received ${t.dtype} [${t.shape}]`,
        );
      }
      v.set(source);
    }
    values.push(v);
    outputs.push(make);
  }
  return { values, outputs };
}

function gradient(backend: MathBackendCPU, kernel: string, grad: TensorInfo | undefined, param: TensorInfo) {
  const g = f32(backend, grad);
  if (!g || g.length !== param.shape.reduce((a, b) => a * b, 1)) {
    throw new Error(
      `${kernel}: expected a float32 gradient of shape [${param.shape}], received ${grad?.dtype} [${grad?.shape}]`,
    );
  }
  return g;
}

interface SgdAttrs {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export const sgdUpdateKernel: NativeKernel = {
  kernelName: SGD_UPDATE,
  run: ({ inputs, backend, attrs }, addon) => {
    const { param, grad, momentum } = inputs as Record<string, TensorInfo | undefined>;
    const a = attrs as unknown as SgdAttrs;
    if (!param) throw new Error(`${SGD_UPDATE}: expected a param input`);
    const g = gradient(backend, SGD_UPDATE, grad, param);
    const slots = a.momentum > 0 ? [momentum] : [];
    const { values, outputs } = state(backend, SGD_UPDATE, param, slots);
    const [p, b] = values;
    addon.sgdUpdate(p!, g, b ?? null, a.lr, a.momentum, a.dampening, a.weightDecay, a.nesterov, !momentum);
    return outputs.map((make) => make());
  },
};

interface LarsAttrs {
  lr: number;
  momentum: number;
  weightDecay: number;
  trustCoefficient: number;
  nesterov: boolean;
  adapt: boolean;
}

export const larsUpdateKernel: NativeKernel = {
  kernelName: LARS_UPDATE,
  run: ({ inputs, backend, attrs }, addon) => {
    const { param, grad, momentum } = inputs as Record<string, TensorInfo | undefined>;
    const a = attrs as unknown as LarsAttrs;
    if (!param) throw new Error(`${LARS_UPDATE}: expected a param input`);
    const g = gradient(backend, LARS_UPDATE, grad, param);
    const { values, outputs } = state(backend, LARS_UPDATE, param, [momentum]);
    const [p, v] = values;
    addon.larsUpdate(
      p!,
      g,
      v!,
      a.lr,
      a.momentum,
      a.weightDecay,
      a.trustCoefficient,
      a.nesterov,
      a.adapt,
      !momentum,
    );
    return outputs.map((make) => make());
  },
};

interface AdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  decoupled: boolean;
  /** 1 − β1^t and 1 − β2^t for this step t. */
  correction1: number;
  correction2: number;
}

export const adamUpdateKernel: NativeKernel = {
  kernelName: ADAM_UPDATE,
  run: ({ inputs, backend, attrs }, addon) => {
    const { param, grad, m, v } = inputs as Record<string, TensorInfo | undefined>;
    const a = attrs as unknown as AdamAttrs;
    if (!param) throw new Error(`${ADAM_UPDATE}: expected a param input`);
    if (!m !== !v) throw new Error(`${ADAM_UPDATE}: expected both moments or neither`);
    const g = gradient(backend, ADAM_UPDATE, grad, param);
    const { values, outputs } = state(backend, ADAM_UPDATE, param, [m, v]);
    const [pv, mv, vv] = values;
    const decayMode = a.weightDecay > 0 ? (a.decoupled ? 2 : 1) : 0;
    addon.adamUpdate(
      pv!,
      g,
      mv!,
      vv!,
      !m,
      decayMode,
      a.weightDecay,
      1 - a.lr * a.weightDecay,
      1 - a.beta1,
      1 - a.beta2,
      a.beta1,
      a.beta2,
      Math.sqrt(a.correction2),
      a.epsilon,
      a.lr / a.correction1,
    );
    return outputs.map((make) => make());
  },
};

export const optimizerKernels: NativeKernel[] = [sgdUpdateKernel, larsUpdateKernel, adamUpdateKernel];
