/**
 * Option checks shared by the loss entry points (`supConLoss`, `supConQueueLoss`): one message shape
 * (argument, expectation, received value) and one home for "baseTemperature absent means τ".
 */
import { check, InvalidArgumentError } from '../errors.js';

/** Rejects a non-object and any key outside `names` (a misspelt option would otherwise do nothing). */
export function knownOptions(options: unknown, names: ReadonlySet<string>): void {
  check(typeof options === 'object' && options !== null, 'options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!names.has(key))
      throw new InvalidArgumentError('options', `only the keys ${[...names].join(', ')}`, key);
  }
}

/** `value` if it is one of `allowed`, `fallback` if undefined; otherwise an InvalidArgumentError. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new InvalidArgumentError(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

export function positiveNumber(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  check(typeof value === 'number' && Number.isFinite(value) && value > 0, name, 'a finite number > 0', value);
  return value;
}

/**
 * τ (default `fallback`) and the loss scale τ / baseTemperature. An absent base temperature means τ
 * (scale 1): it is never stored as a value, so changing τ cannot leave a stale base behind.
 */
export function temperatureScale(
  options: { temperature?: number | undefined; baseTemperature?: number | undefined },
  fallback: number,
): { temperature: number; scale: number } {
  const temperature = positiveNumber('temperature', options.temperature, fallback);
  const base = positiveNumber('baseTemperature', options.baseTemperature, temperature);
  return { temperature, scale: temperature / base };
}
