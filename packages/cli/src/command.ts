/** What a CLI command is, the error type that prints as one clean sentence, and the exit codes. */
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
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The library's one-sentence errors (by `name`, so no package is imported here) and their exit codes. */
const LIBRARY_ERRORS: Record<string, number> = {
  InvalidArgumentError: EXIT.usage,
  DatasetError: EXIT.failed,
  DatasetNotFoundError: EXIT.failed,
  CheckpointError: EXIT.failed,
  DownloadError: EXIT.failed,
  DistributedTrainingError: EXIT.failed,
};

/** `error` as a CliError with the policy's exit code, if it is one of the library's sentences. */
export function asCliError(error: unknown): CliError | undefined {
  if (error instanceof CliError) return error;
  if (!(error instanceof Error)) return undefined;
  const code = LIBRARY_ERRORS[error.name];
  return code === undefined ? undefined : new CliError(error.message, code);
}

/** Runs `work`; the library's one-sentence errors become CLI errors (one line, the policy's exit code). */
export async function libraryErrorsAsCliErrors<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asCliError(error) ?? error;
  }
}
