/**
 * Backend selection for every command: `--backend auto|native|cpu`.
 * 'auto' uses the native oneDNN engine when it loads and says why when it does not.
 */
import type { Precision } from '@supcon/native';
import { PRECISIONS, type RunPrecision } from '@supcon/node';
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

/** What `@supcon/native` offers for the compute precision (loaded only when the native backend runs). */
interface NativePrecision {
  setPrecision(precision: Precision): Precision;
  bf16UnsupportedReason(): string | undefined;
}

// @supcon/node spells the precisions without depending on the engine: the two lists must agree.
const _samePrecisions: readonly Precision[] = PRECISIONS;
void _samePrecisions;

/**
 * `RunOptions.applyPrecision` for the backend in use: sets the native engine's precision and
 * returns the one in effect; prints one warning line when bf16 was asked for and cannot run.
 */
export function precisionSetter(backend: string): (requested: RunPrecision) => Promise<RunPrecision> {
  return async (requested) => {
    if (backend !== 'native') {
      if (requested === 'bf16')
        console.error(
          `supcon: warning: bf16 runs on the native engine only; the ${backend} backend trains in fp32.`,
        );
      return 'fp32';
    }
    const native = (await import('@supcon/native')) as unknown as NativePrecision;
    const effective = native.setPrecision(requested);
    if (effective !== requested)
      console.error(
        `supcon: warning: bf16 is not available (${native.bf16UnsupportedReason() ?? 'unknown reason'}); training in ${effective}.`,
      );
    return effective;
  };
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
