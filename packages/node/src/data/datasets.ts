/**
 * The dataset registry: `NAME` or `NAME:PATH` on the command line → images and labels in memory.
 * Known names: mnist, fashion-mnist (IDX, gzipped or not), cifar10, cifar100 (binary version),
 * folder (one sub-folder per class, decoded by sharp).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidArgumentError } from 'supcon';
import { concatSets, parseCifar } from './cifar.js';
import { DatasetError, DatasetNotFoundError } from './errors.js';
import { parseIdxPair } from './idx.js';
import type { ImageSet } from './image-set.js';

export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'folder'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

export interface Dataset {
  name: DatasetName;
  /** The folder the files were read from. */
  path: string;
  classes: string[];
  /** CIFAR-100: names of the 20 superclasses (labels in `coarseLabels` of each split). */
  coarseClasses?: string[];
  train: ImageSet;
  /** Absent for a `folder:` dataset without `train/` and `test/` folders (one split, validation only). */
  test?: ImageSet;
  /** Per-channel mean and standard deviation of the training images in [0, 1], for normalisation. */
  mean: number[];
  std: number[];
}

const FASHION_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];
// The usual published statistics (as in the SupCon reference), so runs match it.
const STATS: Record<string, { mean: number[]; std: number[] }> = {
  mnist: { mean: [0.1307], std: [0.3081] },
  'fashion-mnist': { mean: [0.286], std: [0.353] },
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] },
  cifar100: { mean: [0.5071, 0.4867, 0.4408], std: [0.2675, 0.2565, 0.2761] },
};

/** Splits `NAME[:PATH]`. */
export function parseDatasetSpec(spec: string): { name: DatasetName; path?: string } {
  const colon = spec.indexOf(':');
  const name = (colon >= 0 ? spec.slice(0, colon) : spec) as DatasetName;
  const path = colon >= 0 ? spec.slice(colon + 1) : undefined;
  if (!DATASET_NAMES.includes(name)) {
    throw new InvalidArgumentError(
      'dataset',
      `NAME or NAME:PATH with NAME one of ${DATASET_NAMES.join(', ')}`,
      spec,
    );
  }
  if (path === '') throw new InvalidArgumentError('dataset', `a path after \`${name}:\``, spec);
  if (name === 'folder' && path === undefined) {
    throw new InvalidArgumentError('dataset', 'folder:PATH (a folder with one sub-folder per class)', spec);
  }
  return path === undefined ? { name } : { name, path };
}

/** The folder downloads go to and datasets are read from when no path is given. */
export function defaultDataRoot(): string {
  return process.env['SUPCON_DATA_DIR'] ?? join(homedir(), '.cache', 'supcon', 'datasets');
}

/** The folder a dataset is read from: PATH if given, else Debian's (fashion-mnist) or the data root. */
export function datasetPath(name: DatasetName, path?: string): string {
  if (path !== undefined) return resolve(path);
  if (name === 'fashion-mnist' && existsSync(DEBIAN_FASHION_MNIST) && !process.env['SUPCON_DATA_DIR'])
    return DEBIAN_FASHION_MNIST;
  return join(defaultDataRoot(), name);
}

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new DatasetError(file, `it cannot be read (${code})`);
  }
}

/** The first of `names` that exists in `dir`, or a clear not-found error. */
function findFile(dir: string, names: string[], dataset: string): string {
  for (const n of names) {
    const f = join(dir, n);
    if (existsSync(f)) return f;
  }
  throw new DatasetNotFoundError(
    `Dataset \`${dataset}\` not found: expected ${names.join(' or ')} in \`${dir}\`; run \`supcon data download ${dataset} --dir ${dir}\` or pass ${dataset}:PATH.`,
  );
}

function loadIdx(name: 'mnist' | 'fashion-mnist', dir: string): Dataset {
  const split = (prefix: string): ImageSet => {
    const images = findFile(
      dir,
      [`${prefix}-images-idx3-ubyte.gz`, `${prefix}-images-idx3-ubyte`, `${prefix}-images.idx3-ubyte`],
      name,
    );
    const labels = findFile(
      dir,
      [`${prefix}-labels-idx1-ubyte.gz`, `${prefix}-labels-idx1-ubyte`, `${prefix}-labels.idx1-ubyte`],
      name,
    );
    return parseIdxPair(readBytes(images), images, readBytes(labels), labels, 10);
  };
  const classes = name === 'mnist' ? ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] : FASHION_CLASSES;
  return { name, path: dir, classes, train: split('train'), test: split('t10k'), ...STATS[name]! };
}

/** Reads a names file (one per line); checks it has `count` non-empty lines. */
function readNames(file: string, count: number, fallback: string[]): string[] {
  if (!existsSync(file)) return fallback;
  const names = Buffer.from(readBytes(file))
    .toString('utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length !== count)
    throw new DatasetError(file, `it lists ${names.length} class names but ${count} were expected`);
  return names;
}

function loadCifar(name: 'cifar10' | 'cifar100', path: string): Dataset {
  const sub = name === 'cifar10' ? 'cifar-10-batches-bin' : 'cifar-100-binary';
  const dir = existsSync(join(path, sub)) && statSync(join(path, sub)).isDirectory() ? join(path, sub) : path;
  const read = (file: string, records: number): ImageSet => {
    const f = findFile(dir, [file], name);
    return parseCifar(readBytes(f), f, { kind: name, records });
  };
  if (name === 'cifar10') {
    const train = concatSets([1, 2, 3, 4, 5].map((k) => read(`data_batch_${k}.bin`, 10000)));
    const classes = readNames(join(dir, 'batches.meta.txt'), 10, CIFAR10_CLASSES);
    return { name, path: dir, classes, train, test: read('test_batch.bin', 10000), ...STATS[name]! };
  }
  const numbered = (n: number, what: string) => Array.from({ length: n }, (_, i) => `${what} ${i}`);
  return {
    name,
    path: dir,
    classes: readNames(join(dir, 'fine_label_names.txt'), 100, numbered(100, 'class')),
    coarseClasses: readNames(join(dir, 'coarse_label_names.txt'), 20, numbered(20, 'superclass')),
    train: read('train.bin', 50000),
    test: read('test.bin', 10000),
    ...STATS[name]!,
  };
}

export interface LoadDatasetOptions {
  /** `folder:` datasets: every image is resized to size × size (default 32). */
  imageSize?: number;
  /** `folder:` datasets: 1 (grayscale) or 3 (RGB, default) channels. */
  channels?: 1 | 3;
}

/** Loads `NAME[:PATH]` into memory, validating every file (DatasetError on bad bytes). */
export async function loadDataset(spec: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const { name, path } = parseDatasetSpec(spec);
  const dir = datasetPath(name, path);
  if (!existsSync(dir)) {
    throw new DatasetNotFoundError(
      name === 'folder'
        ? `Dataset folder \`${dir}\` does not exist.`
        : `Dataset \`${name}\` not found: \`${dir}\` does not exist; run \`supcon data download ${name}${path === undefined ? '' : ` --dir ${dir}`}\` or pass ${name}:PATH.`,
    );
  }
  switch (name) {
    case 'mnist':
    case 'fashion-mnist':
      return loadIdx(name, dir);
    case 'cifar10':
    case 'cifar100':
      return loadCifar(name, dir);
    case 'folder': {
      const { loadFolder } = await import('./folder.js');
      return loadFolder(dir, options);
    }
  }
}
