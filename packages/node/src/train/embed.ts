/** Frozen features of a whole image set: deterministic preprocessing, encoder in inference mode. */
import * as tf from '@tensorflow/tfjs-core';
import { Augmenter, type AugmentStep, computeFeatures, type FeatureSet, type Network } from 'supcon';
import type { ImageSet } from '../data/index.js';

export function embedImages(
  encoder: Network,
  set: ImageSet,
  steps: AugmentStep[],
  batchSize = 500,
): FeatureSet {
  const augmenter = new Augmenter(steps, { height: set.height, width: set.width, channels: set.channels });
  const o = augmenter.output;
  const size = set.height * set.width * set.channels;
  return computeFeatures(
    (x) => encoder.apply(x, false),
    set.count,
    batchSize,
    (start, end) => {
      const pixels = augmenter.apply(set.images.subarray(start * size, end * size), end - start);
      return tf.tensor4d(pixels, [end - start, o.height, o.width, o.channels]);
    },
    set.labels,
  );
}
