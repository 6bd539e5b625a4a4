/**
 * The `native` TensorFlow.js backend: the tfjs `cpu` backend (same tensor storage, same kernels)
 * with the hot kernels replaced by oneDNN / C++ ones. Every `cpu` kernel is registered for
 * `native` too, so anything without a native kernel (or with an unsupported dtype, layout or
 * attribute) runs the `cpu` kernel on the same data.
 */
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import {
  type DataId,
  getBackend,
  getGradient,
  getKernel,
  getKernelsForBackend,
  type KernelConfig,
  type KernelFunc,
  registerBackend,
  registerGradient,
  registerKernel,
  setBackend,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import {
  SupconAttention,
  SupconAutocastMatMul,
  SupconBatchNorm,
  SupconFusedGelu,
  SupconFusedLayerNorm,
  SupconScaledSoftmax,
  setLossRowKernel,
} from 'supcon/kernels';
import { addonLoadError, loadAddon } from './addon.js';
import {
  attentionGradConfig,
  autocastMatMulGradConfig,
  batchNormGradConfig,
  geluGradConfig,
  layerNormGradConfig,
  nativeKernels,
  scaledSoftmaxGradConfig,
} from './kernels/index.js';
import { f32, markShared, recycle, widenInputs, withFallback } from './kernels/util.js';

export const NATIVE_BACKEND = 'native';

/** A MathBackendCPU whose kernels are partly native; the class exists to be told apart. */
export class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    // The cpu backend's first write prints an advert for tfjs-node; this backend is the answer to it.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** `dataSync()`/`data()` hand out the storage itself, so it must not be updated in place later. */
  override readSync(dataId: DataId): ReturnType<MathBackendCPU['readSync']> {
    const data = this.data.get(dataId);
    if (data?.values instanceof Uint16Array && data.dtype === 'float32') {
      f32(this, { dataId, dtype: 'float32', shape: [] });
    }
    const values = super.readSync(dataId);
    markShared(values);
    return values;
  }

  /** Hands the storage of a dropped native output to the opt-in output pool (kernels/util.ts). */
  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const dropped = super.disposeData(dataId, force);
    if (dropped && values !== undefined && !this.data.has(dataId)) recycle(values, dataId);
    return dropped;
  }
}

/**
 * A cpu kernel for `native` that records when it returns a view of existing storage under a new
 * data id (Slice returns a subarray of its input). Outputs that reuse an input's data id
 * (Reshape, Identity, the tape's saved clones) need nothing: the backend's refCount counts them.
 */
function sharingAware(config: KernelConfig): KernelConfig {
  const passesDataIdOn = config.kernelName === 'Reshape' || config.kernelName === 'Identity';
  const kernelFunc: KernelFunc = (args) => {
    const backend = args.backend as MathBackendCPU;
    // cpu kernels read storage as floats: bf16-stored inputs are widened first (precision.ts).
    if (!passesDataIdOn) widenInputs(backend, args.inputs as Record<string, TensorInfo | undefined>);
    const out = config.kernelFunc(args);
    const inputIds = Object.values(args.inputs).map((t) => t?.dataId);
    for (const info of Array.isArray(out) ? out : [out]) {
      if (!inputIds.includes(info.dataId)) markShared(backend.data.get(info.dataId)?.values);
    }
    return out;
  };
  return { ...config, backendName: NATIVE_BACKEND, kernelFunc };
}

let registered = false;

/**
 * Registers the `native` backend (priority 3, above `cpu`, so tfjs picks it by default).
 * Returns false, without throwing, when the addon cannot be loaded: see `nativeLoadError()`.
 */
export function registerNativeBackend(): boolean {
  if (registered) return true;
  const addon = loadAddon();
  if (!addon) return false;
  // SUPCON_NATIVE_DISABLE=Name1,Name2 leaves those kernels to the cpu backend (or, for the
  // fused optimiser kernels, which have no cpu twin, to the optimisers' tfjs-op path): for A/B
  // measurements and for ruling a kernel out when debugging.
  const disabled = new Set((process.env['SUPCON_NATIVE_DISABLE'] ?? '').split(',').map((s) => s.trim()));
  const enabled = nativeKernels.filter((k) => !disabled.has(k.kernelName));
  const nativeNames = new Set(enabled.map((k) => k.kernelName));
  for (const config of getKernelsForBackend('cpu')) {
    if (!nativeNames.has(config.kernelName)) registerKernel(sharingAware(config));
  }
  for (const kernel of enabled) {
    if (getKernel(kernel.kernelName, NATIVE_BACKEND)) continue;
    const cpu = getKernel(kernel.kernelName, 'cpu');
    registerKernel({
      kernelName: kernel.kernelName,
      backendName: NATIVE_BACKEND,
      kernelFunc: withFallback(kernel, cpu, addon),
    });
  }
  if (!getGradient(SupconBatchNorm)) registerGradient(batchNormGradConfig);
  if (!getGradient(SupconFusedLayerNorm)) registerGradient(layerNormGradConfig);
  if (!getGradient(SupconFusedGelu)) registerGradient(geluGradConfig);
  if (!getGradient(SupconScaledSoftmax)) registerGradient(scaledSoftmaxGradConfig);
  if (!getGradient(SupconAutocastMatMul)) registerGradient(autocastMatMulGradConfig);
  if (!getGradient(SupconAttention)) registerGradient(attentionGradConfig);
  registerBackend(NATIVE_BACKEND, () => new NativeBackend(), 3);
  // The core's host loss path runs its row pass here (kernels.ts in the core declares the hook).
  setLossRowKernel((a) =>
    addon.supconRows(
      a.logits,
      a.uncapped,
      a.capped,
      a.rowStart,
      a.rows,
      a.batch,
      a.views,
      a.variant,
      a.denominator,
      a.loss,
      a.valid,
      a.grad,
    ),
  );
  registered = true;
  return true;
}

/** Why the native backend is unavailable (with the fixing command), or undefined if it is. */
export function nativeLoadError(): string | undefined {
  return addonLoadError();
}

export function nativeBackendAvailable(): boolean {
  return registerNativeBackend();
}

/**
 * Makes `native` the active backend. When the addon cannot load, prints one warning that says
 * what failed and the command that fixes it, and keeps the pure-JS `cpu` backend.
 * Returns the name of the backend in use.
 */
export async function useNativeBackend(options: { quiet?: boolean } = {}): Promise<string> {
  if (registerNativeBackend() && (await setBackend(NATIVE_BACKEND))) return NATIVE_BACKEND;
  if (!options.quiet) {
    console.warn(
      `warning: the native engine is unavailable, falling back to the slow cpu backend: ${nativeLoadError()}`,
    );
  }
  await setBackend('cpu');
  return getBackend();
}
