import { check } from '../errors.js';

/** Validates a numeric option: finite and within [min, max] (max exclusive when `openMax`). */
export function checkRange(
  name: string,
  value: number,
  min: number,
  max = Number.POSITIVE_INFINITY,
  openMax = false,
): void {
  const ok = Number.isFinite(value) && value >= min && (openMax ? value < max : value <= max);
  const upper = max === Number.POSITIVE_INFINITY ? '' : openMax ? ` and < ${max}` : ` and <= ${max}`;
  check(ok, name, `a finite number >= ${min}${upper}`, value);
}

export function checkStep(params: readonly unknown[], grads: readonly unknown[], lr: number): void {
  check(
    grads.length === params.length,
    'grads',
    `one gradient per parameter (${params.length})`,
    `${grads.length} gradients`,
  );
  check(Number.isFinite(lr) && lr >= 0, 'lr', 'a finite number >= 0', lr);
}
