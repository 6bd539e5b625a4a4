/**
 * The one error a dataset file can raise: it names the file and says what is wrong with it in
 * one sentence, e.g.
 *   Invalid dataset file `/d/train-labels-idx1-ubyte.gz`: label 12 at index 5 is outside 0..9.
 * Parsers throw nothing else on bad bytes (the fuzz test checks this), so a caller can print
 * `message` and exit non-zero.
 */
export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`Invalid dataset file \`${file}\`: ${problem}.`);
    this.name = 'DatasetError';
  }
}

/** Error for a dataset that cannot be found or named, not for a bad file. */
export class DatasetNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetNotFoundError';
  }
}
