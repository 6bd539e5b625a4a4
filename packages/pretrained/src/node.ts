/**
 * `@supcon/pretrained` in Node: the shipped encoders, read from this package's `models/` folder, so
 * nothing is downloaded.
 *
 * @example
 *   import { listPretrained, loadPretrained } from '@supcon/pretrained';
 *   const encoder = await loadPretrained('fashion-supcon-small');
 *   const features = encoder.embed(pixels, 1); // [1, encoder.card.outputDim]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelCard } from './card.js';
import { loadWith, type PretrainedEncoder, type ReadFile, readCard, readIndex } from './encoder.js';

export * from './card.js';
export {
  type ModelIndex,
  type PretrainedEmbedOptions,
  PretrainedEncoder,
  type ReadFile,
  UnknownPretrainedError,
} from './encoder.js';

/** The absolute path of the shipped `models/` folder (dist/src/node.js → ../../models). */
export const MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

export interface NodeOptions {
  /** A models folder other than the package's (with its own index.json). */
  modelsDir?: string;
}

const reader = (options: NodeOptions): ReadFile => {
  const dir = options.modelsDir ?? MODELS_DIR;
  return async (path) => new Uint8Array(await readFile(join(dir, path)));
};

/** The cards of every shipped model, in index order. */
export async function listPretrained(options: NodeOptions = {}): Promise<ModelCard[]> {
  const read = reader(options);
  const { models } = await readIndex(read);
  return Promise.all(models.map((name) => readCard(name, read)));
}

/** The card of model `name`; an unknown name is refused with the known ones. */
export function pretrainedCard(name: string, options: NodeOptions = {}): Promise<ModelCard> {
  return readCard(name, reader(options));
}

/** The folder holding model `name`'s files (`card.json`, `model.json`, `weights.bin`). */
export function pretrainedDir(name: string, options: NodeOptions = {}): string {
  return join(options.modelsDir ?? MODELS_DIR, name);
}

/** Loads model `name` (its card and layers model) from the package's files. */
export function loadPretrained(name: string, options: NodeOptions = {}): Promise<PretrainedEncoder> {
  return loadWith(name, reader(options));
}
