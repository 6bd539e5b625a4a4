/**
 * One error shape for every public function: it names the argument, what was expected and
 * what was received, e.g.
 *   Invalid value for argument `temperature`. Expected a finite number > 0. Received: temperature=-1.
 */
export class InvalidArgumentError extends Error {
  constructor(
    readonly argument: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(
      `Invalid value for argument \`${argument}\`. Expected ${expected}. Received: ${argument}=${describe(received)}.`,
    );
    this.name = 'InvalidArgumentError';
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

/** Throws an InvalidArgumentError unless `ok`. */
export function check(ok: boolean, argument: string, expected: string, received: unknown): asserts ok {
  if (!ok) throw new InvalidArgumentError(argument, expected, received);
}
