/**
 * The one thing the trainer needs from a model: a forward function and its variables under stable
 * names. Encoders, projection heads and classifiers all have this shape, so the trainer never
 * depends on how a model is built (explicit variables, tf.layers, or the ResNet of models/).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Parameter } from '../optim/types.js';

export interface Network {
  /** Forward pass; `training` selects batch statistics and updates BatchNorm running statistics. */
  apply(x: tf.Tensor, training: boolean): tf.Tensor;
  /** Output width (features of an encoder, embedding size of a head, classes of a classifier). */
  readonly outputDim: number;
  /** Trainable variables under stable names (checkpoint keys, optimiser state keys). */
  parameters(): Parameter[];
  /** Every variable to checkpoint: trainable ones plus state such as BatchNorm running statistics. */
  variables(): Parameter[];
}

let instances = 0;
/** A prefix that keeps tfjs's global variable names unique when several models live in one process. */
export function uniqueScope(name: string): string {
  instances++;
  return `${name}_${instances}`;
}
