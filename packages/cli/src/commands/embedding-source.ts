/**
 * Where the embeddings of `eval --retrieval`, `index` and `search` come from, in one place: today a
 * trained run (`--run DIR`: its checkpoint's encoder, its dataset's normalisation). A pretrained
 * encoder (`--pretrained NAME`, issue 14 item 1) is meant to join as a second `EmbeddingSource`
 * kind here, with `openEmbedder` and `embedderForIndex` each gaining one case; the commands only see
 * an `Embedder`. Also the index file's metadata record and the progress line these commands share.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  augmentSteps,
  buildEncoder,
  type CheckpointFingerprint,
  embedImages,
  type ImageSet,
  loadEncoderWeights,
  readSpec,
  runFiles,
} from '@supcon/node';
import { decodeIndexFile, type FeatureSet, type IndexItems, type RetrievalMetric, UserError } from 'supcon';
import { type BackendChoice, selectBackend } from '../backend.js';
import { CliError } from '../command.js';
import type { FlagValues } from '../flags.js';
import { openRun } from './run-reader.js';

/** The encoder an index was built with, recorded in its metadata so `search` can rebuild it. */
export type EmbeddingSource = { kind: 'run'; run: string; checkpoint: CheckpointFingerprint };

/** What the encoder takes: one image [height, width, channels], input = (pixel / 255 − mean[c]) / std[c]. */
export interface EncoderInput {
  shape: [number, number, number];
  mean: number[];
  std: number[];
}

/** A frozen encoder ready to embed images of its input shape. */
export interface Embedder {
  source: EmbeddingSource;
  input: EncoderInput;
  embed(set: ImageSet, onProgress?: (done: number, total: number) => void): FeatureSet;
}

/** An encoder with the data of its own training: what `eval --retrieval` and `index` start from. */
export interface EmbedderWithData extends Embedder {
  /** NAME[:PATH] of the dataset it was trained on. */
  dataset: string;
  classes: string[];
  /** The images it trained on (a run: the training part, after the validation split and `--limit`). */
  train: ImageSet;
  /** The held-out images: the test split, or the validation split when the dataset has none. */
  heldOut: { split: 'test' | 'validation'; set: ImageSet };
  /** Both splits of the dataset as loaded, for an index of all of them. */
  splits: { train: ImageSet; test?: ImageSet };
}

/** `--run DIR` (required today): the run's encoder and data. */
export async function openEmbedder(flags: FlagValues): Promise<EmbedderWithData> {
  const { run, spec, encoder, data, checkpoint } = await openRun(flags);
  const t = data.train;
  const input: EncoderInput = {
    shape: [t.height, t.width, t.channels],
    mean: [...data.dataset.mean],
    std: [...data.dataset.std],
  };
  const test = data.dataset.test;
  return {
    source: { kind: 'run', run: resolve(run), checkpoint },
    input,
    embed: embedWith(encoder, input),
    dataset: spec.data.dataset,
    classes: [...data.dataset.classes],
    train: data.train,
    heldOut: test ? { split: 'test', set: test } : { split: 'validation', set: data.validation },
    splits: { train: data.dataset.train, ...(test ? { test } : {}) },
  };
}

function embedWith(encoder: Parameters<typeof embedImages>[0], input: EncoderInput): Embedder['embed'] {
  const steps = augmentSteps('none', [input.shape[0], input.shape[1]], input.mean, input.std).eval;
  return (set, onProgress) => embedImages(encoder, set, steps, onProgress ? { onProgress } : {});
}

/** What `supcon index` records beside the embeddings. */
export interface IndexMetadata {
  createdAt: string;
  source: EmbeddingSource;
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
  if (
    m.source?.kind !== 'run' ||
    typeof m.source.run !== 'string' ||
    typeof m.source.checkpoint?.sha256 !== 'string' ||
    !Array.isArray(shape) ||
    shape.length !== 3 ||
    !Array.isArray(m.classes)
  )
    throw new UserError(
      `Index file \`${file}\` does not record the encoder that built it (source, input and classes); rebuild it with \`supcon index\`.`,
    );
  return { items, metric, metadata: m as IndexMetadata };
}

/**
 * The encoder that built an index, loaded without its dataset: the run's checkpoint, which must be
 * the one the index was built from (`runOverride`: the run folder, if it moved).
 */
export async function embedderForIndex(
  file: string,
  metadata: IndexMetadata,
  flags: FlagValues,
  runOverride?: string,
): Promise<Embedder> {
  const { source, input } = metadata;
  const run = runOverride ?? source.run;
  await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
  if (!existsSync(runFiles(run).config))
    throw new CliError(
      `The run \`${run}\` that built index \`${file}\` is not there (no config.json)${runOverride ? '' : '; pass its folder with `--run DIR` if it moved'}.`,
      1,
    );
  const spec = readSpec(run);
  const encoder = buildEncoder(spec.model, input.shape, spec.train.seed);
  const now = loadEncoderWeights(encoder, runFiles(run).checkpoint);
  if (now.sha256 !== source.checkpoint.sha256)
    throw new CliError(
      `The checkpoint of run \`${run}\` is not the one index \`${file}\` was built from (iteration ${source.checkpoint.iteration} then, ${now.iteration} now): rebuild the index with \`supcon index --run ${run}\`.`,
      1,
    );
  return { source: { ...source, run: resolve(run) }, input, embed: embedWith(encoder, input) };
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
