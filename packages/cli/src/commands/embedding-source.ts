/**
 * Where the embeddings of `eval --retrieval`, `index` and `search` come from, in one place: a
 * trained run (`--run DIR`: its checkpoint's encoder, its dataset's normalisation) or a shipped
 * pretrained encoder (`--pretrained NAME`: @supcon/pretrained, its card's dataset and
 * normalisation); the commands only see an `Embedder`. Also the index file's metadata record and
 * the progress line these commands share.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  augmentSteps,
  buildEncoder,
  type CheckpointFingerprint,
  embedImages,
  type ImageSet,
  loadDataset,
  loadEncoderWeights,
  readSpec,
  runFiles,
} from '@supcon/node';
import { loadPretrained, type PretrainedEncoder, pretrainedDir } from '@supcon/pretrained';
import { decodeIndexFile, type FeatureSet, type IndexItems, type RetrievalMetric, UserError } from 'supcon';
import { type BackendChoice, selectBackend } from '../backend.js';
import { CliError } from '../command.js';
import type { FlagValues } from '../flags.js';
import { openRun, runReaderFlagSpecs } from './run-reader.js';

/** The encoder an index was built with, recorded in its metadata so `search` can rebuild it. */
export type EmbeddingSource =
  | { kind: 'run'; run: string; checkpoint: CheckpointFingerprint }
  /** `weightsSha256`: of the model's weights.bin, so a changed model is noticed like a changed checkpoint. */
  | { kind: 'pretrained'; name: string; weightsSha256: string };

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

const weightsSha256 = (name: string) =>
  createHash('sha256')
    .update(readFileSync(join(pretrainedDir(name), 'weights.bin')))
    .digest('hex');

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

/** `--run DIR` or `--pretrained NAME` (one of them): the encoder and the data it was trained on. */
export async function openEmbedder(flags: FlagValues): Promise<EmbedderWithData> {
  const name = flags['pretrained'] as string | undefined;
  if (name !== undefined) {
    if (flags['run'] !== undefined)
      throw new CliError('Flags `--run` and `--pretrained` exclude each other: give one encoder.');
    await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
    const model = await loadPretrained(name);
    const { card } = model;
    const dataset = await loadDataset(card.dataset);
    const input: EncoderInput = {
      shape: card.inputShape,
      mean: [...card.preprocessing.mean],
      std: [...card.preprocessing.std],
    };
    const test = dataset.test;
    if (!test)
      throw new CliError(
        `The dataset of pretrained model \`${name}\` (${card.dataset}) has no test split.`,
        1,
      );
    return {
      source: { kind: 'pretrained', name, weightsSha256: weightsSha256(name) },
      input,
      embed: embedPretrained(model),
      dataset: card.dataset,
      classes: [...card.classes],
      train: dataset.train,
      heldOut: { split: 'test', set: test },
      splits: { train: dataset.train, test },
    };
  }
  if (flags['run'] === undefined)
    throw new CliError('Flag `--run DIR` or `--pretrained NAME` is required: the encoder to use.');
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

/** A pretrained model's `embed` (raw 0–255 pixels, its own preprocessing) in batches of 500. */
function embedPretrained(model: PretrainedEncoder): Embedder['embed'] {
  const dim = model.card.outputDim;
  return (set, onProgress) => {
    const size = set.height * set.width * set.channels;
    const features = new Float32Array(set.count * dim);
    for (let start = 0; start < set.count; start += 500) {
      onProgress?.(start, set.count);
      const n = Math.min(500, set.count - start);
      features.set(model.embed(set.images.subarray(start * size, (start + n) * size), n), start * dim);
    }
    onProgress?.(set.count, set.count);
    return { features, labels: set.labels, count: set.count, dim };
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
  await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
  if (source.kind === 'pretrained') {
    if (runOverride !== undefined)
      throw new CliError(
        `Index \`${file}\` was built from pretrained model \`${source.name}\`, not a run: drop \`--run\`.`,
      );
    const model = await loadPretrained(source.name);
    if (weightsSha256(source.name) !== source.weightsSha256)
      throw new CliError(
        `Pretrained model \`${source.name}\` is not the one index \`${file}\` was built from (its weights changed): rebuild the index with \`supcon index --pretrained ${source.name}\`.`,
        1,
      );
    return { source, input, embed: embedPretrained(model) };
  }
  const run = runOverride ?? source.run;
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
