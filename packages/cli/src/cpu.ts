/**
 * The CPU a benchmark ran on, from /proc/cpuinfo: speed figures mean little without it, and on a
 * rented machine the model can change between runs (the family tells Zen 4, 25, from Zen 5, 26).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuInfo {
  /** `model name`, e.g. "AMD EPYC 9R14"; os.cpus()'s model where /proc/cpuinfo is missing. */
  model: string;
  /** `cpu family` as a number, or null where the system does not say. */
  family: number | null;
  /** Logical CPUs this process sees. */
  logical: number;
}

export function cpuInfo(): CpuInfo {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: fall back to what Node knows
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const family = Number(field('cpu family'));
  return {
    model: field('model name') ?? cpus()[0]?.model ?? 'unknown',
    family: Number.isInteger(family) && field('cpu family') !== undefined ? family : null,
    logical: cpus().length,
  };
}
