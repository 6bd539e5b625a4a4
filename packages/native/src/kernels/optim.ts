/**
 * Fused optimiser updates (`SupconSgdUpdate`, `SupconLarsUpdate`, `SupconAdamUpdate`): one native
 * pass per parameter that updates the parameter and its slot buffers in place, used by the
 * optimisers in packages/supcon/src/optim when the active backend has them (declared, with their
 * inputs and attributes, in the core's kernels.ts).
 *
 * Contract: inputs are the parameter, its gradient and its slots (a slot is absent before the
 * first step). When the parameter and every slot are present and their storage may be written in
 * place (`inPlace`), the kernel updates them and returns no tensors. Otherwise (first step, or
 * storage shared with another tensor or handed out by dataSync) it returns fresh tensors in the
 * input order [param, ...slots] holding the updated values, and the caller assigns them.
 */
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { kernelAttrs, SupconAdamUpdate, SupconLarsUpdate, SupconSgdUpdate } from 'supcon/kernels';
import { f32, inPlace, type NativeKernel, output } from './util.js';

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

export const sgdUpdateKernel: NativeKernel = {
  kernelName: SupconSgdUpdate,
  run: ({ inputs, backend, attrs }, addon) => {
    const { param, grad, momentum } = inputs as Record<string, TensorInfo | undefined>;
    const a = kernelAttrs(SupconSgdUpdate, attrs);
    if (!param) throw new Error(`${SupconSgdUpdate}: expected a param input`);
    const g = gradient(backend, SupconSgdUpdate, grad, param);
    const slots = a.momentum > 0 ? [momentum] : [];
    const { values, outputs } = state(backend, SupconSgdUpdate, param, slots);
    const [p, b] = values;
    addon.sgdUpdate(p!, g, b ?? null, a.lr, a.momentum, a.dampening, a.weightDecay, a.nesterov, !momentum);
    return outputs.map((make) => make());
  },
};

export const larsUpdateKernel: NativeKernel = {
  kernelName: SupconLarsUpdate,
  run: ({ inputs, backend, attrs }, addon) => {
    const { param, grad, momentum } = inputs as Record<string, TensorInfo | undefined>;
    const a = kernelAttrs(SupconLarsUpdate, attrs);
    if (!param) throw new Error(`${SupconLarsUpdate}: expected a param input`);
    const g = gradient(backend, SupconLarsUpdate, grad, param);
    const { values, outputs } = state(backend, SupconLarsUpdate, param, [momentum]);
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

export const adamUpdateKernel: NativeKernel = {
  kernelName: SupconAdamUpdate,
  run: ({ inputs, backend, attrs }, addon) => {
    const { param, grad, m, v } = inputs as Record<string, TensorInfo | undefined>;
    const a = kernelAttrs(SupconAdamUpdate, attrs);
    if (!param) throw new Error(`${SupconAdamUpdate}: expected a param input`);
    if (!m !== !v) throw new Error(`${SupconAdamUpdate}: expected both moments or neither`);
    const g = gradient(backend, SupconAdamUpdate, grad, param);
    const { values, outputs } = state(backend, SupconAdamUpdate, param, [m, v]);
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
