/**
 * The shipped pretrained encoders (`@supcon/pretrained`'s `models/` folder), served read-only under
 * `/models/` so the /search page can load one in the tab with `loadPretrained(name, { baseUrl })`.
 * A path is accepted only as `/models/FILE` or `/models/NAME/FILE` with plain names (no `..`, no
 * encoded slashes, no dot files), and is then resolved with `resolveInside` (symlinks followed), so
 * nothing outside the folder can be read.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { NotFoundError, resolveInside } from './runs.js';

const SEGMENT = '[a-z0-9][a-z0-9_-]*(?:\\.[a-z0-9_-]+)*';
const MODEL_PATH = new RegExp(`^/models/((?:${SEGMENT}/)?${SEGMENT})$`);

const TYPES: Record<string, string> = {
  json: 'application/json; charset=utf-8',
  bin: 'application/octet-stream',
};

let folder: string | undefined;

/** The absolute path of the installed `@supcon/pretrained` package's `models/` folder. */
export function modelsFolder(): string {
  if (folder === undefined) {
    const require = createRequire(import.meta.url);
    folder = join(dirname(require.resolve('@supcon/pretrained/package.json')), 'models');
  }
  return folder;
}

/** True when `path` (a URL pathname) is under `/models/`: the caller then answers with `modelFile`. */
export const isModelsPath = (path: string) => path === '/models' || path.startsWith('/models/');

/** The bytes and content type of `path` (e.g. `/models/index.json`); NotFoundError when refused. */
export function modelFile(path: string, root = modelsFolder()): { type: string; body: Buffer } {
  const rel = MODEL_PATH.exec(path)?.[1];
  if (rel === undefined)
    throw new NotFoundError(
      `Invalid model path ${JSON.stringify(path)}: expected /models/FILE or /models/NAME/FILE with plain names.`,
      403,
    );
  const type = TYPES[rel.slice(rel.lastIndexOf('.') + 1)];
  if (type === undefined)
    throw new NotFoundError(`Refused ${JSON.stringify(path)}: only .json and .bin files are served.`, 403);
  if (!existsSync(join(root, rel)))
    throw new NotFoundError(`No file ${JSON.stringify(rel)} in the models folder.`);
  const file = resolveInside(root, rel);
  if (!statSync(file).isFile())
    throw new NotFoundError(`No file ${JSON.stringify(rel)} in the models folder.`);
  return { type, body: readFileSync(file) };
}
