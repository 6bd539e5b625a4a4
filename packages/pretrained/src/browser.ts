/**
 * `@supcon/pretrained` in a browser: the same encoders fetched from where the `models/` folder is
 * served. By default that is next to this module (`../../models/`, which bundlers that copy the
 * package keep); pass `baseUrl` when the files are served elsewhere.
 *
 * @example
 *   import { loadPretrained } from '@supcon/pretrained/browser';
 *   const encoder = await loadPretrained('fashion-supcon-small', { baseUrl: '/models/' });
 */
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

export interface BrowserOptions {
  /** The URL of the `models/` folder, ending in `/`. */
  baseUrl?: string | URL;
}

function reader(options: BrowserOptions): ReadFile {
  const base = new URL(options.baseUrl ?? '../../models/', import.meta.url);
  return async (path) => {
    const url = new URL(path, base);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`Could not fetch ${url.href}: HTTP ${response.status}.`);
    return new Uint8Array(await response.arrayBuffer());
  };
}

export async function listPretrained(options: BrowserOptions = {}): Promise<ModelCard[]> {
  const read = reader(options);
  const { models } = await readIndex(read);
  return Promise.all(models.map((name) => readCard(name, read)));
}

export function pretrainedCard(name: string, options: BrowserOptions = {}): Promise<ModelCard> {
  return readCard(name, reader(options));
}

export function loadPretrained(name: string, options: BrowserOptions = {}): Promise<PretrainedEncoder> {
  return loadWith(name, reader(options));
}
