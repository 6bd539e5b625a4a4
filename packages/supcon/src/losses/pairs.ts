/**
 * Which contrast rows are positives and negatives for a block of anchor rows.
 *
 * Rows are view-major: row r = v·B + b holds view v of sample b, so sample(r) = r mod B.
 * Positives are defined between *samples* by an untiled matrix U [B, B]:
 *   - instance (SimCLR, no labels): U = I, a sample's only positives are its own other views;
 *   - integer labels: U[a, s] = 1 when labels match;
 *   - multi-hot labels [B, K]: U[a, s] = 1 when a and s share at least one label;
 *   - an explicit mask [B, B] of non-negative weights (may be asymmetric).
 * U is never materialised whole: each block of anchors builds only its own rows [b, B].
 */
import * as tf from '@tensorflow/tfjs-core';

/** Each source keeps its tensor (for the tensor path) and a host copy (for the fused host path). */
export type PairSource =
  | { kind: 'instance' }
  | { kind: 'labels'; labels: tf.Tensor1D; host: Int32Array } // int32 [B]
  | { kind: 'multiHot'; labels: tf.Tensor2D; host: Float32Array } // float32 [B, K], 0/1
  | { kind: 'mask'; mask: tf.Tensor2D; host: Float32Array }; // float32 [B, B], >= 0

/** The tensors a PairSource holds (to save them for a later gradient pass). */
export function sourceTensors(source: PairSource): tf.Tensor[] {
  if (source.kind === 'labels' || source.kind === 'multiHot') return [source.labels];
  if (source.kind === 'mask') return [source.mask];
  return [];
}

/** The same kind of PairSource over other (saved) tensors. */
export function withTensors(source: PairSource, tensors: tf.Tensor[]): PairSource {
  if (source.kind === 'labels') return { ...source, labels: tensors[0] as tf.Tensor1D };
  if (source.kind === 'multiHot') return { ...source, labels: tensors[0] as tf.Tensor2D };
  if (source.kind === 'mask') return { ...source, mask: tensors[0] as tf.Tensor2D };
  return source;
}

export interface BlockPairs {
  /** Positive weights W [b, N]: capped, self excluded. */
  positives: tf.Tensor2D;
  /** Negatives [b, N] as 0/1: U == 0 (uncapped), self excluded. */
  negatives: tf.Tensor2D;
}

/**
 * indicator[i, j] = 1 where indices[i] == j, else 0: `tf.oneHot` without its depth ≥ 2 limit
 * (a batch of one sample has depth 1). With `complement`, 0 there and 1 elsewhere.
 */
function indicator(indices: tf.Tensor1D, depth: number, complement = false): tf.Tensor2D {
  const columns = tf.range(0, depth, 1, 'int32'); // [depth]
  const at = tf.expandDims(indices, 1); // [b, 1]
  return tf.cast(complement ? tf.notEqual(at, columns) : tf.equal(at, columns), 'float32') as tf.Tensor2D; // [b, depth]
}

/**
 * Rows of U for the anchor samples `anchorSamples` [b] (int32): [b, B] float32.
 */
export function untiledRows(source: PairSource, anchorSamples: tf.Tensor1D, batch: number): tf.Tensor2D {
  return tf.tidy(() => {
    switch (source.kind) {
      case 'instance':
        return indicator(anchorSamples, batch); // [b, B]
      case 'labels': {
        const anchorLabels = tf.expandDims(tf.gather(source.labels, anchorSamples), 1); // [b, 1]
        return tf.cast(tf.equal(anchorLabels, tf.expandDims(source.labels, 0)), 'float32') as tf.Tensor2D; // [b, B]
      }
      case 'multiHot': {
        const anchorLabels = tf.gather(source.labels, anchorSamples); // [b, K]
        const shared = tf.matMul(anchorLabels, source.labels, false, true); // [b, B] count of shared labels
        return tf.cast(tf.greater(shared, 0), 'float32') as tf.Tensor2D;
      }
      case 'mask':
        return tf.gather(source.mask, anchorSamples) as tf.Tensor2D; // [b, B]
    }
  });
}

/**
 * Keeps, for each anchor sample a, only the first `samplesCap` samples s ≠ a (lowest index) with
 * U[a, s] > 0, plus U[a, a] itself: the positives cap of the official TensorFlow implementation
 * (`positives_cap = samplesCap · views`).
 */
export function capRows(rows: tf.Tensor2D, anchorSamples: tf.Tensor1D, samplesCap: number): tf.Tensor2D {
  return tf.tidy(() => {
    const batch = rows.shape[1];
    const own = indicator(anchorSamples, batch); // [b, B]
    const candidates = tf.mul(tf.cast(tf.greater(rows, 0), 'float32'), tf.sub(1, own)); // [b, B]
    const rank = tf.cumsum(candidates, 1); // [b, B] 1-based rank among candidates
    const kept = tf.mul(candidates, tf.cast(tf.lessEqual(rank, samplesCap), 'float32')); // [b, B]
    return tf.mul(rows, tf.add(kept, own)) as tf.Tensor2D; // [b, B]
  });
}

/**
 * Positives and negatives of anchor rows [rowStart, rowEnd) against all N = B·views contrast rows.
 */
export function blockPairs(
  source: PairSource,
  rowStart: number,
  rowEnd: number,
  batch: number,
  views: number,
  samplesCap: number | undefined,
): BlockPairs {
  return tf.tidy(() => {
    const rows = tf.range(rowStart, rowEnd, 1, 'int32') as tf.Tensor1D; // [b] anchor row = its contrast row
    const anchorSamples = tf.mod(rows, tf.scalar(batch, 'int32')) as tf.Tensor1D; // [b]
    const uncapped = untiledRows(source, anchorSamples, batch); // [b, B]
    const capped = samplesCap === undefined ? uncapped : capRows(uncapped, anchorSamples, samplesCap); // [b, B]
    const notSelf = indicator(rows, batch * views, true); // [b, N] 0 on the anchor itself
    const positives = tf.mul(tf.tile(capped, [1, views]), notSelf) as tf.Tensor2D; // [b, N]
    const isNegative = tf.cast(tf.equal(tf.tile(uncapped, [1, views]), 0), 'float32'); // [b, N]
    const negatives = tf.mul(isNegative, notSelf) as tf.Tensor2D; // [b, N]
    return { positives, negatives };
  });
}
