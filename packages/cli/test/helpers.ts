/** What the CLI tests share: running the built `supcon` binary, the dataset check, tiny runs. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));

/** Runs `supcon ARGS…` in a child process and returns its status, stdout and stderr. */
export const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

/** Debian's dataset-fashion-mnist, which the training tests use. */
export const hasFashion = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

export const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

/** Train flags for a run of seconds: an MLP on the first `limit` images, one epoch. */
export function tinyTrain(limit: number, validation: number): string[] {
  return [
    '--encoder',
    'mlp',
    '--limit',
    String(limit),
    '--validation',
    String(validation),
    '--batch-size',
    '128',
    '--epochs',
    '1',
  ];
}
