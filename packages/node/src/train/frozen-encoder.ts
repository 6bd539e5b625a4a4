/**
 * One frozen encoder, whichever it comes from: a trained run folder (`{ run }`: its checkpoint, its
 * dataset's normalisation) or a shipped pretrained model (`{ pretrained }`: its layers model and
 * card). Every command that uses embeddings (few-shot, retrieval, index, search) opens its encoder
 * here, so each supports both sources the same way and embeds through one `embed`.
 *
 * - `openFrozenEncoder(source)`: the encoder with the data it was trained on (its dataset, class
 *   names and splits), for few-shot curves, retrieval metrics and indexing a split.
 * - `openEncoderOnly(source)`: the encoder alone, no dataset loaded, for embedding a few images with
 *   the encoder an index recorded (a run needs the input shape and normalisation it recorded).
 *
 * Both record a `fingerprint` (the run's checkpoint, or the pretrained model's weights) so that a
 * later reader can tell whether it is still the same encoder.
 *
 * @example
 *   const frozen = await openFrozenEncoder({ pretrained: 'fashion-supcon-small' });
 *   const test = frozen.embed(frozen.test!, { onProgress: (done, total) => {} }); // FeatureSet [10000, 64]
 *   frozen.dispose();
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadPretrained, type PretrainedEncoder, pretrainedDir } from '@supcon/pretrained';
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureSet, Network } from 'supcon';
import { type ImageSet, loadDataset } from '../data/index.js';
import { type EmbedOptions, embedImages } from './embed.js';
import { loadEncoderWeights, loadRunEncoder } from './evaluate.js';
import type { CheckpointFingerprint } from './probe-file.js';
import { readSpec, runFiles } from './session.js';
import { augmentSteps, buildEncoder } from './spec.js';

/** Where an encoder comes from: a run folder, or a shipped model (in `modelsDir`, default the package's). */
export type EncoderSource = { run: string } | { pretrained: string; modelsDir?: string };

/** Which encoder exactly: the run and its checkpoint, or the model and the SHA-256 of its weights.bin. */
export type EncoderFingerprint =
  | { kind: 'run'; run: string; checkpoint: CheckpointFingerprint }
  | { kind: 'pretrained'; name: string; weightsSha256: string };

/** What the encoder takes: one image [height, width, channels], input = (pixel / 255 − mean[c]) / std[c]. */
export interface EncoderInput {
  shape: [number, number, number];
  mean: number[];
  std: number[];
}

/** A frozen encoder ready to embed raw 0–255 images of its input shape. */
export interface FrozenEncoder {
  /** The run folder or the model's name. */
  name: string;
  fingerprint: EncoderFingerprint;
  input: EncoderInput;
  /**
   * Features [count, dim] of `set` (with its labels), after the encoder's own preprocessing;
   * `batchSize` images per pass (default 500), `onProgress` before each pass and once at the end.
   */
  embed(set: ImageSet, options?: EmbedOptions): FeatureSet;
  dispose(): void;
}

/** A frozen encoder with the data it was trained on. */
export interface FrozenEncoderWithData extends FrozenEncoder {
  /** 'supcon', 'simclr' or 'ce'. */
  method: string;
  /** NAME[:PATH] of the dataset it was trained on. */
  dataset: string;
  classes: string[];
  /** The images it trained on (a run: the training part, after its validation split and limit). */
  train: ImageSet;
  /** A run's validation split (none for a pretrained model: it trained on the whole training file). */
  validation?: ImageSet;
  test?: ImageSet;
  /** Both files of the dataset as loaded (the training file whole, validation part included). */
  splits: { train: ImageSet; test?: ImageSet };
}

/** Images per pass, as `embedImages` (a pretrained model's own default is 256). */
const DEFAULT_BATCH = 500;

/** `{ run }` or `{ pretrained }`: the encoder and the data it was trained on. */
export async function openFrozenEncoder(source: EncoderSource): Promise<FrozenEncoderWithData> {
  if ('run' in source) {
    const { spec, encoder, data, checkpoint, classifier } = await loadRunEncoder(source.run);
    const { dataset } = data;
    const t = data.train;
    const input: EncoderInput = {
      shape: [t.height, t.width, t.channels],
      mean: [...dataset.mean],
      std: [...dataset.std],
    };
    return {
      ...runEncoder(source.run, encoder, input, checkpoint, classifier),
      method: spec.train.method,
      dataset: spec.data.dataset,
      classes: [...dataset.classes],
      train: data.train,
      validation: data.validation,
      ...(dataset.test ? { test: dataset.test } : {}),
      splits: { train: dataset.train, ...(dataset.test ? { test: dataset.test } : {}) },
    };
  }
  const frozen = await pretrainedEncoder(source);
  try {
    const { card } = frozen.model;
    const dataset = await loadDataset(card.dataset);
    const { model: _model, ...rest } = frozen;
    return {
      ...rest,
      method: card.method,
      dataset: card.dataset,
      classes: [...card.classes],
      train: dataset.train,
      ...(dataset.test ? { test: dataset.test } : {}),
      splits: { train: dataset.train, ...(dataset.test ? { test: dataset.test } : {}) },
    };
  } catch (error) {
    frozen.dispose();
    throw error;
  }
}

/**
 * The encoder alone, without loading its dataset: a run's encoder is built for `input` (the shape
 * and normalisation recorded beside its embeddings) and given its checkpoint's weights; a
 * pretrained model takes its card's input.
 */
export async function openEncoderOnly(
  source: { run: string; input: EncoderInput } | { pretrained: string; modelsDir?: string },
): Promise<FrozenEncoder> {
  if ('pretrained' in source) {
    const { model: _model, ...frozen } = await pretrainedEncoder(source);
    return frozen;
  }
  const { run, input } = source;
  const spec = readSpec(run);
  const encoder = buildEncoder(spec.model, input.shape, spec.train.seed);
  try {
    const checkpoint = loadEncoderWeights(encoder, runFiles(run).checkpoint);
    return runEncoder(run, encoder, input, checkpoint);
  } catch (error) {
    free(encoder);
    throw error;
  }
}

const free = (...nets: (Network | undefined)[]) =>
  tf.dispose(nets.flatMap((n) => n?.variables().map((p) => p.variable) ?? []));

function runEncoder(
  run: string,
  encoder: Network,
  input: EncoderInput,
  checkpoint: CheckpointFingerprint,
  classifier?: Network,
): FrozenEncoder {
  const steps = augmentSteps('none', [input.shape[0], input.shape[1]], input.mean, input.std).eval;
  return {
    name: run,
    fingerprint: { kind: 'run', run: resolve(run), checkpoint },
    input,
    embed: (set, options) => embedImages(encoder, set, steps, options),
    dispose: () => free(encoder, classifier),
  };
}

async function pretrainedEncoder(source: {
  pretrained: string;
  modelsDir?: string;
}): Promise<FrozenEncoder & { model: PretrainedEncoder }> {
  const options = source.modelsDir === undefined ? {} : { modelsDir: source.modelsDir };
  const model = await loadPretrained(source.pretrained, options);
  const { card } = model;
  let weights: Buffer;
  try {
    weights = readFileSync(join(pretrainedDir(source.pretrained, options), 'weights.bin'));
  } catch (error) {
    model.dispose();
    throw error;
  }
  return {
    name: card.name,
    fingerprint: {
      kind: 'pretrained',
      name: source.pretrained,
      weightsSha256: createHash('sha256').update(weights).digest('hex'),
    },
    input: { shape: card.inputShape, mean: [...card.preprocessing.mean], std: [...card.preprocessing.std] },
    model,
    embed: (set, options = {}) => ({
      features: model.embed(set.images, set.count, { batchSize: DEFAULT_BATCH, ...options }),
      labels: set.labels,
      count: set.count,
      dim: card.outputDim,
    }),
    dispose: () => model.dispose(),
  };
}
