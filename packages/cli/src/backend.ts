/**
 * Backend flags for every command: `--backend auto|native|cpu`, selected by @supcon/node's one
 * `selectBackend` (warnings on stderr unless quiet), and the precision setter of the native engine.
 */
import type { Precision } from '@supcon/native';
import {
  applyEnginePrecision,
  type BackendChoice,
  PRECISIONS,
  type RunPrecision,
  selectBackend as select,
} from '@supcon/node';

export { BACKEND_CHOICES, type BackendChoice } from '@supcon/node';

// @supcon/node spells the precisions without depending on the engine: the two lists must agree.
const _samePrecisions: readonly Precision[] = PRECISIONS;
void _samePrecisions;

/**
 * `RunOptions.applyPrecision` for the backend in use: sets the native engine's precision and
 * returns the one in effect; prints one warning line when bf16 was asked for and cannot run.
 */
export function precisionSetter(backend: string): (requested: RunPrecision) => Promise<RunPrecision> {
  return (requested) => applyEnginePrecision(backend, requested, { warn: (line) => console.error(line) });
}

/** Activates the chosen backend; returns its name. The fallback warning goes to stderr unless `quiet`. */
export async function selectBackend(choice: BackendChoice, quiet = false): Promise<string> {
  return select(choice, quiet ? {} : { warn: (line) => console.error(line) });
}
