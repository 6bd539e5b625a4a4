/**
 * One frozen encoder, whichever it comes from: a trained run folder (`--run DIR`: its checkpoint,
 * its dataset and training split) or a shipped pretrained model (`--pretrained NAME`: its layers
 * model and card, the whole training file of its dataset). The commands that use embeddings
 * (few-shot, retrieval, search) take this, so each supports both sources the same way.
 *
 * @example
 *   const frozen = await openFrozenEncoder({ pretrained: 'fashion-supcon-small' });
 *   const test = frozen.embed(frozen.test!); // FeatureSet [10000, 64]
 *   frozen.dispose();
 */
import { loadPretrained } from '@supcon/pretrained';
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureSet } from 'supcon';
import { type ImageSet, loadDataset } from '../data/index.js';
import { type EmbedOptions, embedImages } from './embed.js';
import { loadRunEncoder } from './evaluate.js';
import { augmentSteps } from './spec.js';

export type EncoderSource = { run: string } | { pretrained: string; modelsDir?: string };

export interface FrozenEncoder {
  /** The run folder or the model's name. */
  name: string;
  /** 'supcon', 'simclr' or 'ce'. */
  method: string;
  dataset: string;
  classes: string[];
  /** One image, [height, width, channels]. */
  inputShape: [number, number, number];
  /** Features [count, dim] of raw 0–255 images, with the encoder's own preprocessing. */
  embed(set: ImageSet, options?: EmbedOptions): FeatureSet;
  /** The images it was trained on (a run: its training split; a pretrained model: the training file). */
  train: ImageSet;
  test?: ImageSet;
  dispose(): void;
}

export async function openFrozenEncoder(source: EncoderSource): Promise<FrozenEncoder> {
  if ('run' in source) {
    const { spec, encoder, data, classifier } = await loadRunEncoder(source.run);
    const { mean, std, classes } = data.dataset;
    const t = data.train;
    const steps = augmentSteps('none', [t.height, t.width], mean, std).eval;
    return {
      name: source.run,
      method: spec.train.method,
      dataset: spec.data.dataset,
      classes: [...classes],
      inputShape: [t.height, t.width, t.channels],
      embed: (set, options) => embedImages(encoder, set, steps, options),
      train: data.train,
      ...(data.dataset.test ? { test: data.dataset.test } : {}),
      dispose: () =>
        tf.dispose([...encoder.variables(), ...(classifier?.variables() ?? [])].map((p) => p.variable)),
    };
  }
  const model = await loadPretrained(
    source.pretrained,
    source.modelsDir === undefined ? {} : { modelsDir: source.modelsDir },
  );
  const { card } = model;
  const dataset = await loadDataset(card.dataset);
  return {
    name: card.name,
    method: card.method,
    dataset: card.dataset,
    classes: [...card.classes],
    inputShape: card.inputShape,
    embed: (set, options = {}) => {
      const { batchSize = 500, onProgress } = options;
      const size = set.height * set.width * set.channels;
      const features = new Float32Array(set.count * card.outputDim);
      for (let start = 0; start < set.count; start += batchSize) {
        onProgress?.(start, set.count);
        const n = Math.min(batchSize, set.count - start);
        const pixels = set.images.subarray(start * size, (start + n) * size);
        features.set(model.embed(pixels, n, batchSize), start * card.outputDim);
      }
      onProgress?.(set.count, set.count);
      return { features, labels: set.labels, count: set.count, dim: card.outputDim };
    },
    train: dataset.train,
    ...(dataset.test ? { test: dataset.test } : {}),
    dispose: () => model.dispose(),
  };
}
