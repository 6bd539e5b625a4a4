/**
 * The native engine's compute precision. 'fp32' everywhere by default; 'bf16' is mixed precision
 * in the style of PyTorch's CPU autocast, kept inside this backend (TensorFlow.js has no bf16
 * dtype): convolutions run on bf16 inputs with fp32 accumulation and produce bf16 activations,
 * which batch norm, ReLU, residual adds and the convolutions' backward passes consume directly.
 * Master weights, optimiser state, batch-norm statistics, the loss and weight gradients stay fp32.
 * A float32 tensor whose storage is bf16 is widened to fp32 when JavaScript or a kernel without a
 * bf16 path reads it.
 */
import { loadAddon } from './addon.js';

export type Precision = 'fp32' | 'bf16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];

let current: Precision = 'fp32';

/** Whether this CPU runs oneDNN's bf16 convolutions natively (avx512_bf16 or AMX); false if the addon is missing. */
export function bf16Supported(): boolean {
  const addon = loadAddon();
  return addon !== undefined && typeof addon.bf16Supported === 'function' && addon.bf16Supported();
}

/** Why bf16 cannot run here, or undefined when it can. */
export function bf16UnsupportedReason(): string | undefined {
  if (bf16Supported()) return undefined;
  if (loadAddon() === undefined) return 'the native engine is not loaded';
  return 'this CPU has neither avx512_bf16 nor AMX, which oneDNN needs for bf16 convolutions';
}

/**
 * Sets the precision of the native kernels from now on. Asking for 'bf16' on a CPU without bf16
 * support keeps 'fp32' and returns it (the caller says so once). Returns the precision in effect.
 */
export function setPrecision(precision: Precision): Precision {
  if (!PRECISIONS.includes(precision)) {
    throw new TypeError(
      `Invalid value for argument \`precision\`. Expected one of {fp32, bf16}. Received: precision=${String(precision)}`,
    );
  }
  current = precision === 'bf16' && !bf16Supported() ? 'fp32' : precision;
  return current;
}

/** The precision the native kernels run in. */
export function getPrecision(): Precision {
  return current;
}
