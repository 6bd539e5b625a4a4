/** What a CLI command is, the CLI's own user error, the exit codes, and the one map from errors to them. */
import { EXIT_FAILED, EXIT_USAGE, UserError } from 'supcon';

export interface Command {
  /** One or more words, e.g. `bench loss`. */
  name: string;
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

/**
 * One exit-code policy for every command: 0 done; 1 the command was understood but failed (a dataset
 * missing or damaged, a damaged checkpoint, a download or a worker that failed, training that
 * crashed); 2 the command line cannot run as written (unknown command or flag, a malformed or
 * out-of-range value, a bad config file, an output path that cannot be written); 130 stopped by
 * SIGINT or SIGTERM, checkpoint written.
 */
export const EXIT = { ok: 0, failed: EXIT_FAILED, usage: EXIT_USAGE, interrupted: 130 } as const;

/** A problem with the command line itself (exit code 2 unless given). */
export class CliError extends UserError {
  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message, exitCode);
  }
}

/**
 * The one map from an error to the exit code, applied by `cli.ts` to whatever a command throws: a
 * UserError's own code (2 bad usage, 1 failed), anything else 1. Every user-facing error of the
 * packages extends UserError (the data package's DatasetError, DatasetNotFoundError and DownloadError,
 * 1; the dashboard's NotFoundError, 1 or 2 by its HTTP status), so none needs a case of its own here.
 */
export function exitCodeOf(error: unknown): number {
  return error instanceof UserError ? error.exitCode : EXIT.failed;
}
