/** What a CLI command is, and the error type that prints as one clean sentence. */
export interface Command {
  /** One or more words, e.g. `bench loss`. */
  name: string;
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
