import { EXIT_FAILED, UserError } from 'supcon';

/**
 * The one error a dataset file can raise: it names the file and says what is wrong with it in
 * one sentence, e.g.
 *   Invalid dataset file `/d/train-labels-idx1-ubyte.gz`: label 12 at index 5 is outside 0..9.
 * Parsers throw nothing else on bad bytes (the fuzz test checks this), so a caller can print
 * `message` and exit non-zero: as a UserError it ends a command line with 1 (`EXIT_FAILED`), the
 * command having been understood and the data found unsound.
 */
export class DatasetError extends UserError {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`Invalid dataset file \`${file}\`: ${problem}.`, EXIT_FAILED);
    this.name = 'DatasetError';
  }
}

/** Error for a dataset that cannot be found or named, not for a bad file (a UserError, exit code 1). */
export class DatasetNotFoundError extends UserError {
  constructor(message: string) {
    super(message, EXIT_FAILED);
    this.name = 'DatasetNotFoundError';
  }
}
