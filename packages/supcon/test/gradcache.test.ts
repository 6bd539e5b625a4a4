/**
 * Gradient caching: in chunks, the gradient of the SupCon loss over the whole batch equals the
 * direct gradient — exactly without batch statistics, and equal to a chunk-wise ("ghost") batch
 * norm forward with them; the running statistics are updated once per chunk.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { cachedGradients, mlpEncoder, type Network, projectionHead, supConLoss } from 'supcon';
import { assertClose, randomFeatures, randomLabels, values } from './helpers.js';

const BATCH = 12;
const VIEWS = 2;
const DIM = 10;

/** A dense encoder without batch norm: x [n, 10] → tanh(x W1) W2 → unit rows [n, 6]. */
function plainNetwork(): { forward: (x: tf.Tensor) => tf.Tensor2D; variables: tf.Variable[] } {
  const w1 = tf.variable(tf.randomNormal([DIM, 16], 0, 0.5, 'float32', 11), true, 'gc/w1');
  const w2 = tf.variable(tf.randomNormal([16, 6], 0, 0.5, 'float32', 12), true, 'gc/w2');
  const forward = (x: tf.Tensor) => {
    const z = tf.matMul(tf.tanh(tf.matMul(x as tf.Tensor2D, w1)), w2); // [n, 6]
    return tf.div(z, tf.norm(z, 'euclidean', 1, true)) as tf.Tensor2D;
  };
  return { forward, variables: [w1, w2] };
}

const labels = randomLabels(3, BATCH, 3);
const lossOf = (o: tf.Tensor2D) => supConLoss(tf.reshape(o, [BATCH, VIEWS, -1]), labels) as tf.Scalar;
const inputs = () => tf.reshape(randomFeatures(5, BATCH, VIEWS, DIM, false), [BATCH * VIEWS, DIM]);

describe('cachedGradients', () => {
  it('equals the full-batch gradient for a network without batch statistics', () => {
    const net = plainNetwork();
    const x = inputs();
    const direct = tf.variableGrads(() => lossOf(net.forward(x)), net.variables);
    for (const chunkRows of [1, 5, 8, 24, 100]) {
      const cached = cachedGradients({
        forward: net.forward,
        loss: lossOf,
        inputs: x,
        chunkRows,
        variables: net.variables,
      });
      assertClose(values(cached.value), values(direct.value), 1e-6, 1e-7, `loss, chunk ${chunkRows}`);
      for (const v of net.variables)
        assertClose(
          values(cached.grads[v.name]!),
          values(direct.grads[v.name]!),
          1e-4,
          1e-6,
          `${v.name}, chunk ${chunkRows}`,
        );
      tf.dispose([cached.value, ...Object.values(cached.grads)]);
    }
    tf.dispose([x, direct.value, ...Object.values(direct.grads), ...net.variables]);
  });

  it('equals a chunk-wise batch-norm forward and updates the running statistics once per chunk', () => {
    const encoder: Network = mlpEncoder({ inputDim: DIM, hidden: [16, 8], seed: 4 });
    const head: Network = projectionHead({ inputDim: 8, outputDim: 4, seed: 5 });
    const forward = (x: tf.Tensor) => head.apply(encoder.apply(x, true), true) as tf.Tensor2D;
    const variables = [...encoder.parameters(), ...head.parameters()].map((p) => p.variable);
    const trainable = new Set(variables);
    const state = encoder
      .variables()
      .map((p) => p.variable)
      .filter((v) => !trainable.has(v));
    assert.ok(state.length > 0, 'the encoder has running statistics');
    const x = inputs();
    const chunkRows = 8;
    const initial = state.map((v) => tf.clone(v));
    // Reference: one taped forward in the same chunks (ghost batch norm), then restore the statistics.
    const direct = tf.variableGrads(() => {
      const parts = [0, 8, 16].map((s) => forward(tf.slice(x, s, Math.min(chunkRows, 24 - s))));
      return lossOf(tf.concat(parts, 0) as tf.Tensor2D);
    }, variables);
    const afterOnePass = state.map((v) => tf.clone(v));
    for (const [i, v] of state.entries()) v.assign(initial[i]!);
    const cached = cachedGradients({ forward, loss: lossOf, inputs: x, chunkRows, variables, state });
    assertClose(values(cached.value), values(direct.value), 1e-5, 1e-6, 'loss');
    for (const v of variables)
      assertClose(values(cached.grads[v.name]!), values(direct.grads[v.name]!), 1e-4, 1e-6, v.name);
    for (const [i, v] of state.entries())
      assertClose(values(v), values(afterOnePass[i]!), 1e-6, 1e-7, `${v.name} after the step`);
    tf.dispose([
      x,
      cached.value,
      direct.value,
      ...Object.values(cached.grads),
      ...Object.values(direct.grads),
      ...initial,
      ...afterOnePass,
    ]);
  });

  it('leaks no tensors and rejects a bad chunk size', () => {
    const net = plainNetwork();
    const x = inputs();
    const before = tf.memory().numTensors;
    const r = cachedGradients({
      forward: net.forward,
      loss: lossOf,
      inputs: x,
      chunkRows: 7,
      variables: net.variables,
    });
    tf.dispose([r.value, ...Object.values(r.grads)]);
    assert.equal(tf.memory().numTensors, before);
    assert.throws(
      () =>
        cachedGradients({
          forward: net.forward,
          loss: lossOf,
          inputs: x,
          chunkRows: 0,
          variables: net.variables,
        }),
      /`chunkRows`.*integer > 0.*0/,
    );
    tf.dispose([x, ...net.variables]);
  });
});
