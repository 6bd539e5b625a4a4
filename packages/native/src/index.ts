/**
 * @supcon/native: a TensorFlow.js backend for Node whose hot kernels (convolution, matmul,
 * batch norm, elementwise, reductions) run natively on oneDNN. Usage:
 *
 *   import { useNativeBackend } from '@supcon/native';
 *   await useNativeBackend(); // 'native', or 'cpu' with a warning saying how to fix the build
 */
export { addonLoadError, FIX_COMMAND, loadAddon, type NativeAddon, requireAddon } from './addon.js';
export {
  NATIVE_BACKEND,
  NativeBackend,
  nativeBackendAvailable,
  nativeLoadError,
  registerNativeBackend,
  useNativeBackend,
} from './backend.js';
export { outputPoolStats, setOutputPoolLimit } from './kernels/util.js';
export {
  bf16Supported,
  bf16UnsupportedReason,
  getPrecision,
  PRECISIONS,
  type Precision,
  setPrecision,
} from './precision.js';
