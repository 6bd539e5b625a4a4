/** Frozen features of a whole image set: deterministic preprocessing, encoder in inference mode. */
import * as tf from '@tensorflow/tfjs-core';
import { Augmenter, type AugmentStep, computeFeatures, type FeatureSet, type Network } from 'supcon';
import type { ImageSet } from '../data/index.js';

export interface EmbedOptions {
  /** Images per encoder pass, default 500. */
  batchSize?: number;
  /** Called before each batch with the images done so far, and once at the end with `done = total`. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Encoder features [count, dim] of every image of `set`, after the deterministic `steps`.
 *
 * @example
 *   const f = embedImages(encoder, data.validation, augmentSteps('none', [28, 28], mean, std).eval);
 */
export function embedImages(
  encoder: Network,
  set: ImageSet,
  steps: AugmentStep[],
  options: EmbedOptions = {},
): FeatureSet {
  const { batchSize = 500, onProgress } = options;
  const augmenter = new Augmenter(steps, { height: set.height, width: set.width, channels: set.channels });
  const o = augmenter.output;
  const size = set.height * set.width * set.channels;
  const features = computeFeatures(
    (x) => encoder.apply(x, false),
    set.count,
    batchSize,
    (start, end) => {
      onProgress?.(start, set.count);
      const pixels = augmenter.apply(set.images.subarray(start * size, end * size), end - start);
      return tf.tensor4d(pixels, [end - start, o.height, o.width, o.channels]);
    },
    set.labels,
  );
  onProgress?.(set.count, set.count);
  return features;
}
