/**
 * Backend selection for every command: `--backend auto|native|cpu`.
 * 'auto' uses the native oneDNN engine when it loads and says why when it does not.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CliError } from './command.js';

export const BACKEND_CHOICES = ['auto', 'native', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

interface NativeModule {
  registerNativeBackend?: () => unknown;
  nativeBackendAvailable?: () => boolean;
  nativeLoadError?: () => string | undefined;
}

async function tryNative(): Promise<{ ok: boolean; why?: string }> {
  try {
    const native = (await import('@supcon/native')) as NativeModule;
    if (typeof native.registerNativeBackend === 'function') native.registerNativeBackend();
    if (tf.findBackend('native') || tf.findBackendFactory('native')) return { ok: true };
    return { ok: false, why: native.nativeLoadError?.() ?? 'the native backend did not register' };
  } catch (error) {
    return { ok: false, why: error instanceof Error ? error.message : String(error) };
  }
}

/** Activates the chosen backend; returns its name. Warnings go to stderr. */
export async function selectBackend(choice: BackendChoice, quiet = false): Promise<string> {
  tf.env().set('PROD', true); // silences tfjs's advice to install tfjs-node, which cannot be installed offline
  if (choice !== 'cpu') {
    const native = await tryNative();
    if (native.ok && (await tf.setBackend('native'))) return 'native';
    if (choice === 'native')
      throw new CliError(`The native backend is not available: ${native.why ?? 'it failed to initialise'}.`);
    if (!quiet)
      console.error(
        `supcon: warning: using the slow 'cpu' backend (native engine unavailable: ${native.why}).`,
      );
  }
  await tf.setBackend('cpu');
  return 'cpu';
}
