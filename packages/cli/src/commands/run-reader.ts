/**
 * The flags and loading shared by the commands that read a trained run (`linear`, `eval`, `embed`,
 * `predict`).
 */
import { loadRunEncoder } from '@supcon/node';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError } from '../command.js';
import type { FlagSpec, FlagValues } from '../flags.js';

/** Flags of the commands that read a trained run (`linear`, `eval`, `embed`). */
export const runReaderFlagSpecs: Record<string, FlagSpec> = {
  run: { kind: 'string' },
  backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
};

export const runReaderFlagHelp = [
  '  --run DIR          the run folder written by `supcon train` (required)',
  '  --backend B        auto (default: native oneDNN engine when it loads) | native | cpu',
].join('\n');

/**
 * For `linear`, `eval`, `embed`: requires `--run`, selects the backend, and loads the run's spec,
 * data and frozen encoder (its checkpoint's weights); problems become one-sentence CLI errors.
 */
export async function openRun(
  flags: FlagValues,
): Promise<{ run: string } & Awaited<ReturnType<typeof loadRunEncoder>>> {
  const run = flags['run'] as string | undefined;
  if (run === undefined)
    throw new CliError('Flag `--run DIR` is required: the run folder written by `supcon train`.');
  await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
  return { run, ...(await loadRunEncoder(run)) };
}
