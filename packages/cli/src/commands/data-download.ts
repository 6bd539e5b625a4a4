/** `supcon data download NAME [--dir D]`: official files, checksum-verified, resumable, atomic. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DATASET_SOURCES,
  type DatasetSource,
  defaultDataRoot,
  downloadDataset,
  loadDataset,
  progressBar,
  summariseDataset,
} from '@supcon/node';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';

const NAMES = Object.keys(DATASET_SOURCES) as (keyof typeof DATASET_SOURCES)[];

function readManifest(path: string): DatasetSource {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CliError(
      `Cannot read the manifest \`${path}\` (${error instanceof Error ? error.message : String(error)}).`,
    );
  }
  const files = (parsed as { files?: unknown }).files;
  const ok =
    Array.isArray(files) &&
    files.length > 0 &&
    files.every(
      (f) => typeof f?.name === 'string' && typeof f?.url === 'string' && /^[0-9a-f]{32}$/.test(f?.md5),
    );
  if (!ok)
    throw new CliError(
      `Invalid manifest \`${path}\`. Expected {"files": [{"name", "url", "md5"}], "extract"?: boolean}.`,
    );
  return parsed as DatasetSource;
}

export const dataDownloadCommand: Command = {
  name: 'data download',
  summary: 'Download a dataset from its official address (checksum-verified, resumable)',
  help: [
    `Usage: supcon data download NAME [--dir D] [--json]    NAME: ${NAMES.join(', ')}`,
    '',
    `  --dir D          target folder (default ${join(defaultDataRoot(), 'NAME')}; SUPCON_DATA_DIR moves the root)`,
    '  --mirror URL     fetch the same file names from another base URL (checksums unchanged)',
    '  --manifest F     JSON {"files": [{"name", "url", "md5"}], "extract"?: true} replacing the official list',
    '',
    'Files arrive as NAME.part and are renamed only after their MD5 matches; an interrupted download',
    'resumes where it stopped when run again. CIFAR archives are unpacked into D.',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      dir: { kind: 'string' },
      mirror: { kind: 'string' },
      manifest: { kind: 'string' },
    });
    const name = positionals[0] as keyof typeof DATASET_SOURCES | undefined;
    if (positionals.length !== 1 || !name || !NAMES.includes(name)) {
      throw new CliError(
        `Expected one dataset name, one of ${NAMES.join(', ')}. Received: ${positionals.join(' ') || 'none'}.`,
      );
    }
    const dir = resolve((flags['dir'] as string | undefined) ?? join(defaultDataRoot(), name));
    let source: DatasetSource = flags['manifest']
      ? readManifest(flags['manifest'] as string)
      : DATASET_SOURCES[name];
    const mirror = flags['mirror'] as string | undefined;
    if (mirror) {
      const base = mirror.endsWith('/') ? mirror : `${mirror}/`;
      source = { ...source, files: source.files.map((f) => ({ ...f, url: base + f.name })) };
    }
    const showBar = !flags['json'] && process.stderr.isTTY;
    const results = await downloadDataset(source, dir, showBar ? progressBar(process.stderr) : undefined);
    // Prove the files are usable: parse them all with the same strict readers training uses.
    const dataset = await loadDataset(`${name}:${dir}`);
    const summary = summariseDataset(dataset);
    const files = results.map((r) => ({
      path: r.path,
      bytes: r.bytes,
      resumedFrom: r.resumedFrom,
      skipped: r.skipped,
    }));
    if (flags['json']) {
      console.log(JSON.stringify({ name, dir, files, splits: summary.splits, shape: summary.shape }));
      return 0;
    }
    for (const f of files) {
      const how = f.skipped
        ? 'already present, checksum ok'
        : f.resumedFrom > 0
          ? `resumed at byte ${f.resumedFrom}, checksum ok`
          : 'checksum ok';
      console.log(`${f.path}  ${(f.bytes / 1e6).toFixed(1)} MB  (${how})`);
    }
    const splits = Object.entries(summary.splits)
      .map(([k, s]) => `${k} ${s?.samples}`)
      .join(', ');
    console.log(`${name} ready in ${dir}: ${splits} samples of ${summary.shape.join('×')}.`);
    return 0;
  },
};
