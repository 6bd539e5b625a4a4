import { InvalidArgumentError } from 'supcon';

/** Throws the core's one-sentence InvalidArgumentError unless `ok`. */
export function check(ok: boolean, argument: string, expected: string, received: unknown): asserts ok {
  if (!ok) throw new InvalidArgumentError(argument, expected, received);
}
