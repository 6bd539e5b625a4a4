/**
 * The one error base for what a user can fix or must know about, and the one message shape for a bad
 * argument. Every user-facing error of the packages extends `UserError`; its `exitCode` is what a
 * command line ends with (the CLI maps it in one place, so one problem exits alike from every command):
 *   2 (`EXIT_USAGE`): the input cannot run as written (an argument, a flag, a config file);
 *   1 (`EXIT_FAILED`): the input was understood but the work failed (data, a checkpoint, a worker).
 * An InvalidArgumentError names the argument, what was expected and what was received, e.g.
 *   Invalid value for argument `temperature`. Expected a finite number > 0. Received: temperature=-1.
 */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A one-sentence error meant for the user (no stack trace needed), with the exit code it ends with. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad argument, in the one message shape (exit code 2). */
export class InvalidArgumentError extends UserError {
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(
      `Invalid value for argument \`${argument}\`. Expected ${expected}. Received: ${argument}=${describe(received)}.`,
      EXIT_USAGE,
    );
    this.name = 'InvalidArgumentError'; // spelt out: a minified browser bundle renames classes
  }
}

/** Short, readable rendering of a received value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) {
    const head = value.slice(0, 6).map(describe).join(', ');
    return `[${head}${value.length > 6 ? `, … (${value.length} items)` : ''}]`;
  }
  if (typeof value === 'object') {
    const shape = (value as { shape?: unknown }).shape;
    const dtype = (value as { dtype?: unknown }).dtype;
    if (Array.isArray(shape) && typeof dtype === 'string')
      return `a ${dtype} tensor of shape [${shape.join(', ')}]`;
    const name = value.constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return typeof value;
}

/**
 * Throws an InvalidArgumentError unless `ok`: the one validation helper of every package.
 *
 * @example
 *   check(k > 0, 'k', 'an integer > 0', k); // Invalid value for argument `k`. Expected an integer > 0. Received: k=0.
 */
export function check(ok: boolean, argument: string, expected: string, received: unknown): asserts ok {
  if (!ok) throw new InvalidArgumentError(argument, expected, received);
}
