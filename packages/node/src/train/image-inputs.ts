/**
 * New images given on the command line (`supcon predict`, `supcon embed --images`): image files
 * and folders of them, decoded (by sharp, as folder datasets are) to the shape a run's encoder takes.
 * By default an image of another size is resized (centre-cropped to a square first, as `folder:`
 * datasets are read) and a colour image converted to grey or back; each input records whether that
 * happened. With `resize: false` an image of another width or height is refused with a sentence
 * naming it, its size and the size expected. Nothing is skipped without a word.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { UserError } from 'supcon';
import { DatasetError, decodeImage, type ImageSet } from '../data/index.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);
/** Images decoded at once: sharp runs them on its own thread pool. */
const CONCURRENCY = 16;

/** One decoded input and what was done to it. */
export interface ImageInput {
  file: string;
  /** The image as stored (after EXIF orientation): width, height, channels without alpha. */
  original: { width: number; height: number; channels: number };
  /** Its width or height differed from the run's, so it was resized. */
  resized: boolean;
  /** Grey turned to colour or colour to grey for the run's channels. */
  converted: boolean;
}

/** An image path that cannot be used: one sentence naming it. */
export class ImageInputError extends UserError {}

/** The image files of `paths` (files as given, folders searched recursively, sorted; hidden names skipped). */
export function listImageFiles(paths: string[]): string[] {
  const files: string[] = [];
  const visit = (path: string, named: boolean) => {
    let isFolder: boolean;
    try {
      isFolder = statSync(path).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new ImageInputError(
        `Image \`${path}\` cannot be read (${code === 'ENOENT' ? 'no such file or folder' : code}).`,
      );
    }
    if (isFolder) {
      const before = files.length;
      let names: string[];
      try {
        names = readdirSync(path)
          .filter((n) => !n.startsWith('.'))
          .sort();
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
        throw new ImageInputError(`Folder \`${path}\` cannot be read (${code}).`);
      }
      for (const name of names) visit(join(path, name), false);
      if (named && files.length === before)
        throw new ImageInputError(`Folder \`${path}\` holds no JPEG, PNG or WebP images.`);
      return;
    }
    if (!IMAGE_EXTENSIONS.has(extname(path).toLowerCase()))
      throw new ImageInputError(
        `\`${path}\` is not a JPEG, PNG or WebP image (by its extension)${named ? '' : '; move it out of the folder'}.`,
      );
    files.push(path);
  };
  for (const p of paths) visit(p, true);
  return files;
}

/**
 * Decodes the images of `paths` to `shape` ([height, width, channels], square) as one ImageSet (labels
 * all 0) plus what was done to each image.
 *
 * @example
 *   const { set, inputs } = await readImages(['new/'], [28, 28, 1]);
 *   inputs.filter((i) => i.resized).length; // how many were resized
 */
export async function readImages(
  paths: string[],
  shape: [number, number, number],
  options: { resize?: boolean } = {},
): Promise<{ set: ImageSet; inputs: ImageInput[] }> {
  const [height, width, channels] = shape;
  if (height !== width || (channels !== 1 && channels !== 3))
    throw new ImageInputError(
      `The run's encoder takes ${height}×${width}×${channels} images; only square 1- or 3-channel inputs can be prepared from image files.`,
    );
  const files = listImageFiles(paths);
  const pixels = height * width * channels;
  const images = new Uint8Array(files.length * pixels);
  const inputs: ImageInput[] = new Array(files.length);
  let sharp: typeof import('sharp')['default'];
  try {
    sharp = (await import('sharp')).default;
  } catch (error) {
    throw new ImageInputError(
      `Cannot load sharp, which decodes images (${error instanceof Error ? error.message : String(error)}); run \`npm install\` in the repository root.`,
    );
  }
  const one = async (k: number) => {
    const file = files[k]!;
    let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
    try {
      meta = await sharp(file).metadata();
    } catch (error) {
      throw new ImageInputError(
        `Image \`${file}\` cannot be decoded (${error instanceof Error ? error.message.split('\n')[0]!.replace(/\.$/, '') : String(error)}).`,
      );
    }
    const w = meta.autoOrient?.width ?? meta.width ?? 0;
    const h = meta.autoOrient?.height ?? meta.height ?? 0;
    const c = (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0);
    const resized = w !== width || h !== height;
    if (resized && options.resize === false)
      throw new ImageInputError(
        `Image \`${file}\` is ${w}×${h}, but the run's encoder takes ${width}×${height} images (${height}×${width}×${channels}): pass images of that size, or leave out --no-resize to have them resized.`,
      );
    try {
      images.set(await decodeImage(file, file, height, channels), k * pixels);
    } catch (error) {
      if (error instanceof DatasetError) throw new ImageInputError(`Image \`${file}\`: ${error.problem}.`);
      throw error;
    }
    inputs[k] = { file, original: { width: w, height: h, channels: c }, resized, converted: c !== channels };
  };
  for (let start = 0; start < files.length; start += CONCURRENCY) {
    const jobs: Promise<void>[] = [];
    for (let k = start; k < Math.min(files.length, start + CONCURRENCY); k++) jobs.push(one(k));
    await Promise.all(jobs);
  }
  return {
    set: { images, labels: new Int32Array(files.length), count: files.length, height, width, channels },
    inputs,
  };
}
