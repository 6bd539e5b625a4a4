/**
 * The one backend selection, for every process that runs tensors (the CLI, each distributed worker,
 * the benchmarks): `auto` uses the native oneDNN engine when it loads and says why when it does not,
 * `native` insists on it, `cpu` is the pure-JavaScript backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from 'supcon';

export const BACKEND_CHOICES = ['auto', 'native', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

interface NativeModule {
  registerNativeBackend?: () => unknown;
  nativeLoadError?: () => string | undefined;
  setPrecision?: (precision: 'fp32' | 'bf16') => 'fp32' | 'bf16';
  bf16UnsupportedReason?: () => string | undefined;
}

const NATIVE_PACKAGE = '@supcon/native'; // not a dependency of @supcon/node: loaded only when asked for

/** Registers the native backend if its package loads; otherwise the reason it does not. */
async function registerNative(): Promise<{ ok: boolean; why: string }> {
  try {
    const native = (await import(NATIVE_PACKAGE)) as NativeModule;
    native.registerNativeBackend?.();
    if (tf.findBackend('native') || tf.findBackendFactory('native')) return { ok: true, why: '' };
    return { ok: false, why: native.nativeLoadError?.() ?? 'the native backend did not register' };
  } catch (error) {
    return { ok: false, why: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Activates the chosen backend and returns its name. `native` that cannot start is a UserError (exit
 * code 1: the machine lacks the engine, the command line is fine); `auto` falls back to `cpu` and
 * passes one warning line to `warn`.
 *
 * @example
 *   const backend = await selectBackend('auto', { warn: console.error }); // 'native' or 'cpu'
 */
export async function selectBackend(
  choice: BackendChoice,
  options: { warn?: (line: string) => void } = {},
): Promise<'native' | 'cpu'> {
  tf.env().set('PROD', true); // silences tfjs's advice to install tfjs-node, which cannot be installed offline
  if (choice !== 'cpu') {
    const native = await registerNative();
    if (native.ok && (await tf.setBackend('native'))) return 'native';
    const why = native.ok ? 'it failed to initialise' : native.why;
    if (choice === 'native') throw new UserError(`The native backend is not available: ${why}.`);
    options.warn?.(`supcon: warning: using the slow 'cpu' backend (native engine unavailable: ${why}).`);
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

/**
 * Sets the compute precision of `backend` (the name `selectBackend` returned) to `requested` and
 * returns the one in effect: bf16 runs on the native engine only, and only where the CPU has it;
 * otherwise fp32, with one warning line passed to `warn`. The one place a process sets it: the
 * CLI's runs and every distributed worker.
 *
 * @example
 *   const precision = await applyEnginePrecision(backend, 'bf16', { warn: console.error });
 */
export async function applyEnginePrecision(
  backend: string,
  requested: 'fp32' | 'bf16',
  options: { warn?: (line: string) => void } = {},
): Promise<'fp32' | 'bf16'> {
  if (backend !== 'native') {
    if (requested === 'bf16')
      options.warn?.(
        `supcon: warning: bf16 runs on the native engine only; the ${backend} backend trains in fp32.`,
      );
    return 'fp32';
  }
  const native = (await import(NATIVE_PACKAGE)) as NativeModule;
  if (!native.setPrecision) throw new Error('the native backend does not offer setPrecision');
  const effective = native.setPrecision(requested);
  if (effective !== requested)
    options.warn?.(
      `supcon: warning: bf16 is not available (${native.bf16UnsupportedReason?.() ?? 'unknown reason'}); training in ${effective}.`,
    );
  return effective;
}
