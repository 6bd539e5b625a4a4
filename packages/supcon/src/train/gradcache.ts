/**
 * Gradient caching (Gao et al., "Scaling Deep Contrastive Learning Batch Size under Memory Limited
 * Setup", 2021): the gradient of a contrastive loss over a large batch, with the activations of only
 * one chunk alive at a time. The loss couples every row with every other, so plain gradient
 * accumulation over chunks would change the loss; caching does not:
 *
 *   1. forward every chunk without a tape → outputs O [R, D] (cheap to keep: R·D floats);
 *   2. the loss of the whole O and its gradient dL/dO [R, D] (the loss sees the full batch);
 *   3. forward each chunk again with a tape and back-propagate dL/dO_chunk into the weights,
 *      summing the weight gradients over chunks: Σ_c (∂O_c/∂θ)ᵀ dL/dO_c = dL/dθ.
 *
 * The result equals the full-batch gradient exactly for encoders without batch statistics; with
 * BatchNorm each chunk is normalised with its own statistics ("ghost" batch norm, as in any chunked
 * forward), and the running statistics are updated once per chunk (pass 1 only). The price is one
 * extra forward pass per step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { variableGrads } from './grads.js';

export interface CachedGradientsOptions {
  /** Training-mode forward of a chunk of inputs [n, ...] → outputs [n, D] (encoder then head). */
  forward: (inputs: tf.Tensor) => tf.Tensor2D;
  /** The loss of the whole batch's outputs [R, D], rows in input order. */
  loss: (outputs: tf.Tensor2D) => tf.Scalar;
  /** The batch [R, ...] (for example views in sample-major order [B·V, H, W, C]). */
  inputs: tf.Tensor;
  /** Rows per chunk (the last chunk may be smaller). */
  chunkRows: number;
  /** Trainable variables to differentiate. */
  variables: tf.Variable[];
  /** Non-trainable variables the forward updates (BatchNorm running statistics): kept from pass 1. */
  state?: tf.Variable[];
}

/** Loss value and the gradient of every variable (by variable name); the caller disposes them. */
export function cachedGradients(options: CachedGradientsOptions): {
  value: tf.Scalar;
  grads: tf.NamedTensorMap;
} {
  const { forward, loss, inputs, chunkRows, variables, state = [] } = options;
  check(inputs instanceof tf.Tensor && inputs.rank >= 1, 'inputs', 'a tf.Tensor [rows, ...]', inputs);
  check(Number.isInteger(chunkRows) && chunkRows > 0, 'chunkRows', 'an integer > 0', chunkRows);
  const rows = inputs.shape[0]!;
  const starts: number[] = [];
  for (let s = 0; s < rows; s += chunkRows) starts.push(s);
  const chunk = (t: tf.Tensor, s: number) => tf.slice(t, s, Math.min(chunkRows, rows - s)) as tf.Tensor; // [n, ...]

  // 1. Outputs of every chunk, no tape: [R, D].
  const outputs = tf.tidy(() =>
    tf.concat(
      starts.map((s) => forward(chunk(inputs, s))),
      0,
    ),
  ) as tf.Tensor2D;
  const kept = state.map((v) => tf.clone(v)); // running statistics after one update per chunk

  // 2. Loss of the whole batch and its gradient with respect to the outputs.
  const { value, grad } = tf.valueAndGrad((o: tf.Tensor) => loss(o as tf.Tensor2D))(outputs);
  outputs.dispose();

  // 3. Each chunk again, with a tape, pulling dL/dO_chunk back into the weights.
  const grads: tf.NamedTensorMap = {};
  try {
    for (const s of starts) {
      tf.tidy(() => {
        const upstream = chunk(grad, s); // [n, D]
        const part = variableGrads(() => tf.sum(tf.mul(forward(chunk(inputs, s)), upstream)), variables);
        for (const [name, g] of Object.entries(part.grads)) {
          const sum = grads[name] ? tf.add(grads[name]!, g) : g;
          if (grads[name]) grads[name]!.dispose();
          grads[name] = tf.keep(sum);
        }
      });
    }
  } finally {
    grad.dispose();
    state.forEach((v, i) => {
      v.assign(kept[i]!);
    });
    tf.dispose(kept);
  }
  return { value, grads };
}
