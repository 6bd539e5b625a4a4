/**
 * Backend flags for every command: `--backend auto|native|cpu`, selected by @supcon/node's one
 * `selectBackend` (warnings on stderr unless quiet), and the precision setter of the native engine.
 */
import type { Precision } from '@supcon/native';
import { type BackendChoice, PRECISIONS, type RunPrecision, selectBackend as select } from '@supcon/node';

export { BACKEND_CHOICES, type BackendChoice } from '@supcon/node';

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

/** Activates the chosen backend; returns its name. The fallback warning goes to stderr unless `quiet`. */
export async function selectBackend(choice: BackendChoice, quiet = false): Promise<string> {
  return select(choice, quiet ? {} : { warn: (line) => console.error(line) });
}
