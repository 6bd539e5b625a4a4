/**
 * `folder:PATH` datasets: one sub-folder per class (sorted by name gives the class index),
 * JPEG, PNG and WebP files decoded and resized by sharp. If PATH holds `train/` and `test/`
 * folders, each is read as a split with the same classes; otherwise PATH is the training set and
 * there is no test set (evaluation is then validation-only: evaluateEncoderOnValidation). Classes
 * are one level deep: a folder inside a class folder is an error.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Dataset, LoadDatasetOptions } from './datasets.js';
import { DatasetError, DatasetNotFoundError } from './errors.js';
import type { ImageSet } from './image-set.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);
/** Images decoded at once: sharp runs them on its own thread pool. */
const CONCURRENCY = 16;

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => !n.startsWith('.'))
      .sort();
  } catch (error) {
    throw new DatasetError(
      dir,
      `it cannot be read as a folder (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`,
    );
  }
}

/**
 * Why a folder inside class folder `name` of `dir` is refused: classes are exactly one level deep.
 * A lone `train/` or `test/` is the likeliest cause (the split layout needs both), so it is named.
 */
function nestedFolderProblem(dir: string, name: string): string {
  const other = name === 'train' ? 'test' : 'train';
  const split = (name === 'train' || name === 'test') && !existsSync(join(dir, other));
  return split
    ? `it is a folder inside \`${name}/\`, which was read as a class folder because \`${dir}\` has no \`${other}/\` beside it; a dataset split into train/ and test/ needs both, each holding one folder of images per class`
    : `it is a folder inside the class folder \`${name}/\`, which must hold only JPEG, PNG or WebP files (one folder of images per class, directly in \`${dir}\`)`;
}

/** Class folders and their image files; every problem is an error, none is skipped silently. */
function scan(dir: string): { classes: string[]; files: string[][] } {
  const classes: string[] = [];
  const files: string[][] = [];
  for (const name of listDir(dir)) {
    const sub = join(dir, name);
    if (!statSync(sub).isDirectory()) {
      throw new DatasetError(sub, 'a dataset folder must hold only class sub-folders, and this is a file');
    }
    const images = listDir(sub).map((f) => join(sub, f));
    for (const f of images) {
      if (statSync(f).isDirectory()) throw new DatasetError(f, nestedFolderProblem(dir, name));
      if (!IMAGE_EXTENSIONS.has(extname(f).toLowerCase())) {
        throw new DatasetError(f, 'it is not a JPEG, PNG or WebP image (by its extension)');
      }
    }
    if (images.length === 0) throw new DatasetError(sub, 'the class folder holds no images');
    classes.push(name);
    files.push(images);
  }
  if (classes.length === 0) throw new DatasetError(dir, 'it holds no class sub-folders');
  return { classes, files };
}

type Sharp = typeof import('sharp')['default'];
let sharpModule: Sharp | undefined;

async function loadSharp(): Promise<Sharp> {
  if (sharpModule) return sharpModule;
  try {
    sharpModule = (await import('sharp')).default;
    return sharpModule;
  } catch (error) {
    throw new DatasetNotFoundError(
      `Cannot load sharp, which decodes folder datasets (${error instanceof Error ? error.message : String(error)}); run \`npm install\` in the repository root.`,
    );
  }
}

/**
 * Decodes one image (a path, or its bytes with `file` naming it in errors) to size × size ×
 * channels uint8, centre-cropped to a square; a DatasetError naming the file otherwise.
 */
export async function decodeImage(
  input: string | Uint8Array,
  file: string,
  size: number,
  channels: 1 | 3,
): Promise<Uint8Array> {
  const sharp = await loadSharp();
  let out: { data: Buffer; info: { channels: number; width: number; height: number } };
  try {
    out = await sharp(input, { failOn: 'error' })
      .rotate()
      .resize(size, size, { fit: 'cover' })
      .removeAlpha()
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0]!.replace(/\.$/, '') : String(error);
    throw new DatasetError(file, `it cannot be decoded as an image (${reason})`);
  }
  if (out.info.channels !== channels || out.data.length !== size * size * channels) {
    throw new DatasetError(
      file,
      `it decoded to ${out.info.width}×${out.info.height}×${out.info.channels}, not ${size}×${size}×${channels}`,
    );
  }
  return out.data;
}

async function decodeAll(files: string[][], size: number, channels: 1 | 3): Promise<ImageSet> {
  const list = files.flatMap((fs, label) => fs.map((file) => ({ file, label })));
  const pixels = size * size * channels;
  const images = new Uint8Array(list.length * pixels);
  const labels = new Int32Array(list.length);
  const decodeOne = async (k: number) => {
    const { file, label } = list[k]!;
    images.set(await decodeImage(file, file, size, channels), k * pixels);
    labels[k] = label;
  };
  for (let start = 0; start < list.length; start += CONCURRENCY) {
    const jobs: Promise<void>[] = [];
    for (let k = start; k < Math.min(list.length, start + CONCURRENCY); k++) jobs.push(decodeOne(k));
    await Promise.all(jobs);
  }
  return { images, labels, count: list.length, height: size, width: size, channels };
}

function stats(set: ImageSet): { mean: number[]; std: number[] } {
  const c = set.channels;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let i = 0; i < set.images.length; i++) {
    const v = set.images[i]! / 255;
    sum[i % c]! += v;
    sq[i % c]! += v * v;
  }
  const n = set.images.length / c;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sq, (s, k) => Math.sqrt(Math.max(s / n - mean[k]! ** 2, 1e-12)));
  return { mean, std };
}

export async function loadFolder(dir: string, options: LoadDatasetOptions): Promise<Dataset> {
  const size = options.imageSize ?? 32;
  const channels = options.channels ?? 3;
  const splitDirs = existsSync(join(dir, 'train')) && existsSync(join(dir, 'test'));
  const trainDir = splitDirs ? join(dir, 'train') : dir;
  const train = scan(trainDir);
  const trainSet = await decodeAll(train.files, size, channels);
  const dataset: Dataset = {
    name: 'folder',
    path: dir,
    classes: train.classes,
    train: trainSet,
    ...stats(trainSet),
  };
  if (splitDirs) {
    const test = scan(join(dir, 'test'));
    if (test.classes.join('\n') !== train.classes.join('\n')) {
      throw new DatasetError(
        join(dir, 'test'),
        `its class folders (${test.classes.join(', ')}) differ from train/ (${train.classes.join(', ')})`,
      );
    }
    dataset.test = await decodeAll(test.files, size, channels);
  }
  return dataset;
}
