/** What the CLI tests share: running the built `supcon` binary, the dataset check, tiny runs. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** The built `supcon` binary (bin/supcon.js). */
export const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));

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

/**
 * The first `train` and `test` images of Debian's Fashion-MNIST as an IDX folder: every probe reads
 * the whole test split, and 10,000 test images would make each run take seconds instead of one.
 */
export function tinyFashion(train: number, test: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-study-data-'));
  const from = '/usr/share/datasets/fashion-mnist';
  for (const [prefix, n] of [
    ['train', train],
    ['t10k', test],
  ] as const) {
    for (const [kind, header, bytes] of [
      ['images-idx3-ubyte', 16, 784],
      ['labels-idx1-ubyte', 8, 1],
    ] as const) {
      const all = gunzipSync(readFileSync(join(from, `${prefix}-${kind}.gz`)));
      const part = Buffer.from(all.subarray(0, header + n * bytes));
      part.writeUInt32BE(n, 4);
      writeFileSync(join(dir, `${prefix}-${kind}`), part);
    }
  }
  return dir;
}

/**
 * `supcon train` flags of a run of seconds on a `tinyFashion` folder: an MLP encoder, 128 images
 * held out for validation, one batch size and epoch count.
 */
export function tinyRun(data: string, batch = 128, epochs = 1): string[] {
  return [
    '--dataset',
    `fashion-mnist:${data}`,
    '--encoder',
    'mlp',
    '--validation',
    '128',
    '--batch-size',
    String(batch),
    '--epochs',
    String(epochs),
  ];
}

/** `mpirun` is installed (Open MPI from scripts/setup.sh). */
export const hasMpi = spawnSync('mpirun', ['--version']).status === 0;

/** Why the data-parallel CLI tests cannot run on this machine, or false. */
export const mpiSkip = !hasFashion
  ? 'Fashion-MNIST is not installed'
  : !hasMpi
    ? 'mpirun is not installed'
    : false;

/**
 * `supcon train` flags of a data-parallel run of seconds: a 784→32 MLP (its config file written
 * into `dir`), the first `limit` training images, batch 32, one epoch, 100 held out, no kNN monitor
 * (add `--backend` and `--out`).
 */
export function tinyMpiRun(dir: string, limit: number): string[] {
  const config = join(dir, 'tiny.json');
  writeFileSync(config, JSON.stringify({ model: { encoder: { kind: 'mlp', hidden: [32] } } }));
  return [
    '--config',
    config,
    '--limit',
    String(limit),
    '--batch-size',
    '32',
    '--epochs',
    '1',
    '--validation',
    '100',
    '--knn-k',
    '0',
  ];
}
