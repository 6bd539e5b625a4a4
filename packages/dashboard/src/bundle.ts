/**
 * The browser code: `web/*.ts`, compiled by `tsc -b` to `dist/web/*.js`, is bundled on first request
 * by esbuild (the train and search pages pull in `supcon` and TensorFlow.js with its WebGL and cpu
 * backends; the search page also `@supcon/pretrained/browser`) and
 * kept in memory. Nothing is fetched from a CDN: the page works without internet.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ENTRIES = ['dashboard', 'train', 'search'] as const;
export type Entry = (typeof ENTRIES)[number];

const webDir = fileURLToPath(new URL('../web/', import.meta.url));
const cache = new Map<Entry, Promise<string>>();

async function build(entry: Entry): Promise<string> {
  const file = `${webDir}${entry}.js`;
  if (!existsSync(file))
    throw new Error(`The browser code ${file} is missing: build it with \`npx tsc -b packages/dashboard\`.`);
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [file],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error(`esbuild produced no output for ${file}.`);
  return out.text;
}

/** The bundled script of `entry` (built once per process). */
export function bundle(entry: Entry): Promise<string> {
  let p = cache.get(entry);
  if (!p) {
    p = build(entry);
    // A failed build (e.g. web code not compiled yet) is retried on the next request.
    p.catch(() => cache.delete(entry));
    cache.set(entry, p);
  }
  return p;
}
