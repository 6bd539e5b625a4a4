/**
 * The flags of the commands that embed with a frozen encoder (`eval --retrieval`, `index`,
 * `search`): `--run DIR` or `--pretrained NAME`, opened by @supcon/node's `openFrozenEncoder`
 * (or `openEncoderOnly` for the encoder an index recorded); the commands only see a
 * `FrozenEncoder`. Also the index file's metadata record and the progress line these commands share.
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  type EncoderFingerprint,
  type EncoderInput,
  type FrozenEncoder,
  type FrozenEncoderWithData,
  openEncoderOnly,
  openFrozenEncoder,
  runFiles,
} from '@supcon/node';
import { decodeIndexFile, type IndexItems, type RetrievalMetric, UserError } from 'supcon';
import { type BackendChoice, selectBackend } from '../backend.js';
import { CliError } from '../command.js';
import type { FlagValues } from '../flags.js';
import { runReaderFlagSpecs } from './run-reader.js';

/** `--run DIR` and `--pretrained NAME`, the two sources (with `--backend`). */
export const embeddingSourceFlagSpecs = {
  ...runReaderFlagSpecs,
  pretrained: { kind: 'string' },
} as const;
export const embeddingSourceFlagHelp = [
  '  --run DIR          the run folder written by `supcon train`',
  '  --pretrained NAME  a shipped encoder instead (`supcon pretrained list`)',
  '  --backend B        auto (default: native oneDNN engine when it loads) | native | cpu',
].join('\n');

/** `--run DIR` or `--pretrained NAME` (one of them), on the selected backend: the encoder and its data. */
export async function openEncoderFromFlags(flags: FlagValues): Promise<FrozenEncoderWithData> {
  const pretrained = flags['pretrained'] as string | undefined;
  const run = flags['run'] as string | undefined;
  if (pretrained !== undefined && run !== undefined)
    throw new CliError('Flags `--run` and `--pretrained` exclude each other: give one encoder.');
  if (pretrained === undefined && run === undefined)
    throw new CliError('Flag `--run DIR` or `--pretrained NAME` is required: the encoder to use.');
  await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
  return openFrozenEncoder(pretrained !== undefined ? { pretrained } : { run: run! });
}

/** What `supcon index` records beside the embeddings. */
export interface IndexMetadata {
  createdAt: string;
  /** The encoder that built the index, so `search` can rebuild it and notice a changed one. */
  source: EncoderFingerprint;
  input: EncoderInput;
  /** The dataset and split the items are, and its class names (labels index them). */
  dataset: string;
  split: 'train' | 'test';
  classes: string[];
}

/** An index file read from disk, with its metadata checked. */
export interface IndexOnDisk {
  items: IndexItems;
  metric: RetrievalMetric;
  metadata: IndexMetadata;
}

/** Reads and checks an index file; every problem is one sentence naming it. */
export function readIndexFile(file: string): IndexOnDisk {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new UserError(
      `Index file \`${file}\` cannot be read (${code === 'ENOENT' ? 'no such file' : code}); build one with \`supcon index\`.`,
    );
  }
  const { items, metric, metadata } = decodeIndexFile(bytes, file);
  const m = metadata as Partial<IndexMetadata>;
  const shape = m.input?.shape;
  const source = m.source;
  const known =
    (source?.kind === 'run' &&
      typeof source.run === 'string' &&
      typeof source.checkpoint?.sha256 === 'string') ||
    (source?.kind === 'pretrained' &&
      typeof source.name === 'string' &&
      typeof source.weightsSha256 === 'string');
  if (!known || !Array.isArray(shape) || shape.length !== 3 || !Array.isArray(m.classes))
    throw new UserError(
      `Index file \`${file}\` does not record the encoder that built it (source, input and classes); rebuild it with \`supcon index\`.`,
    );
  return { items, metric, metadata: m as IndexMetadata };
}

/**
 * The encoder that built an index, loaded without its dataset: the pretrained model or the run's
 * checkpoint, which must be the one the index was built from (`runOverride`: the run folder, if it
 * moved).
 */
export async function openIndexEncoder(
  file: string,
  metadata: IndexMetadata,
  flags: FlagValues,
  runOverride?: string,
): Promise<FrozenEncoder> {
  const { source, input } = metadata;
  await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
  if (source.kind === 'pretrained') {
    if (runOverride !== undefined)
      throw new CliError(
        `Index \`${file}\` was built from pretrained model \`${source.name}\`, not a run: drop \`--run\`.`,
      );
    const frozen = await openEncoderOnly({ pretrained: source.name });
    if (
      frozen.fingerprint.kind !== 'pretrained' ||
      frozen.fingerprint.weightsSha256 !== source.weightsSha256
    ) {
      frozen.dispose();
      throw new CliError(
        `Pretrained model \`${source.name}\` is not the one index \`${file}\` was built from (its weights changed): rebuild the index with \`supcon index --pretrained ${source.name}\`.`,
        1,
      );
    }
    return frozen;
  }
  const run = runOverride ?? source.run;
  if (!existsSync(runFiles(run).config))
    throw new CliError(
      `The run \`${run}\` that built index \`${file}\` is not there (no config.json)${runOverride ? '' : '; pass its folder with `--run DIR` if it moved'}.`,
      1,
    );
  const frozen = await openEncoderOnly({ run, input });
  const now = frozen.fingerprint.kind === 'run' ? frozen.fingerprint.checkpoint : undefined;
  if (now?.sha256 !== source.checkpoint.sha256) {
    frozen.dispose();
    throw new CliError(
      `The checkpoint of run \`${run}\` is not the one index \`${file}\` was built from (iteration ${source.checkpoint.iteration} then, ${now?.iteration} now): rebuild the index with \`supcon index --run ${run}\`.`,
      1,
    );
  }
  return frozen;
}

/**
 * A progress line on stderr (`command: stage done/total`): rewritten in place on a terminal;
 * otherwise one line when a stage ends and at most one every 5 s in between. `undefined` when off.
 */
export function progressLine(
  command: string,
  off: boolean,
): { stage: (name: string) => (done: number, total: number) => void; end: () => void } {
  const tty = process.stderr.isTTY === true;
  let last = performance.now();
  return {
    stage: (name) => (done, total) => {
      if (off) return;
      const text = `${command}: ${name} ${done}/${total}`;
      if (tty) process.stderr.write(`\r${text}\x1b[K`);
      else if (done === total || performance.now() - last > 5000) {
        process.stderr.write(`${text}\n`);
        last = performance.now();
      }
    },
    end: () => {
      if (!off && tty) process.stderr.write('\r\x1b[K');
    },
  };
}

/** One retrieval metric value as a percentage for text output. */
export const percent = (v: number) => `${(100 * v).toFixed(2)}%`;
