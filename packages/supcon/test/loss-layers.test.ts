/** The loss inside tf.LayersModel training: compile + fit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { supConLayersLoss, supConLoss, supConTargets } from 'supcon';
import { assertClose, randomFeatures, randomLabels, values } from './helpers.js';

describe('supConLayersLoss', () => {
  it('equals supConLoss on L2-normalised, reshaped predictions', () => {
    const f = randomFeatures(2, 6, 2, 4, false); // [6, 2, 4]
    const labels = randomLabels(3, 6, 3);
    const yPred = tf.reshape(f, [6, 8]);
    const fromLayers = supConLayersLoss({ temperature: 0.2 })(supConTargets(labels, 8), yPred);
    const normalised = tf.div(f, tf.norm(f, 'euclidean', -1, true));
    assertClose(
      values(fromLayers),
      values(supConLoss(normalised, labels, { temperature: 0.2 })),
      1e-6,
      1e-7,
      'layers',
    );
  });

  it('trains a two-view encoder with model.fit and the loss falls', async () => {
    const batch = 32;
    const views = 2;
    const inputDim = 6;
    const labels = randomLabels(5, batch, 4);
    // Two noisy views of class prototypes: [batch, views, inputDim]
    const prototypes = randomFeatures(6, 4, 1, inputDim, false);
    const noise = randomFeatures(7, batch, views, inputDim, false);
    const x = tf.tidy(() =>
      tf.add(tf.gather(tf.reshape(prototypes, [4, 1, inputDim]), labels), tf.mul(noise, 0.8)),
    );
    const model = tf.sequential({
      layers: [
        tf.layers.timeDistributed({
          inputShape: [views, inputDim],
          layer: tf.layers.dense({ units: 8, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        }),
        tf.layers.flatten(),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.05), loss: supConLayersLoss({ temperature: 0.5, views }) });
    const history = await model.fit(x, supConTargets(labels, views * 8), {
      epochs: 15,
      batchSize: batch,
      verbose: 0,
      shuffle: false,
    });
    const losses = history.history['loss'] as number[];
    assert.ok(losses.every(Number.isFinite));
    assert.ok(losses.at(-1)! < losses[0]! * 0.9, `loss should fall: ${losses[0]} → ${losses.at(-1)}`);
  });
});
