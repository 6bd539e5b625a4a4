/**
 * SupCon against a memory queue: the batch's anchors are contrasted with the other batch rows and
 * with K feature rows kept from earlier steps (MoCo-style, He et al. 2020; the idea behind
 * pytorch-metric-learning's CrossBatchMemory). More negatives and more same-class positives per
 * step without a larger batch: the queue costs K·D floats and no activations.
 *
 *   L_i = −1/|P(i)| Σ_{p∈P(i)} log( exp(z_i·c_p/τ) / Σ_{a∈A(i)} exp(z_i·c_a/τ) ) · τ/τ_base
 *
 * A(i) = every batch row but i, plus every queue row; P(i) = the rows of A(i) with i's label (with
 * no labels: i's other views; queue rows are then negatives only). Queue rows are constants: the
 * gradient flows into the batch features only. With an empty queue this is `supConLoss` exactly.
 *
 * @example
 *   const queue = new FeatureQueue({ capacity: 4096, dim: 128 });
 *   const loss = supConQueueLoss(z, labels, queue, { temperature: 0.1 }); // z [B, V, 128], unit rows
 *   queue.enqueue(z, labels);                                            // after the step
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import { knownOptions, oneOf, temperatureScale } from './options.js';

/** Rows of the queue without a label: never a positive. */
export const NO_LABEL = -1;

/** A first-in first-out ring of feature rows [capacity, dim] and their labels, kept in host memory. */
export class FeatureQueue {
  readonly capacity: number;
  readonly dim: number;
  private readonly rows: Float32Array; // [capacity, dim]
  private readonly rowLabels: Int32Array; // [capacity]
  private next = 0; // slot the next row goes to
  private filled = 0;

  constructor(options: { capacity: number; dim: number }) {
    check(typeof options === 'object' && options !== null, 'options', 'an object { capacity, dim }', options);
    const { capacity, dim } = options;
    check(Number.isInteger(capacity) && capacity > 0, 'capacity', 'an integer > 0', capacity);
    check(Number.isInteger(dim) && dim > 0, 'dim', 'an integer > 0', dim);
    this.capacity = capacity;
    this.dim = dim;
    this.rows = new Float32Array(capacity * dim);
    this.rowLabels = new Int32Array(capacity).fill(NO_LABEL);
  }

  /** Rows currently held (grows to `capacity`, then stays there). */
  get size(): number {
    return this.filled;
  }

  /**
   * Appends copies of `features` — [B, V, dim] (every view, labels repeated per view) or [n, dim] —
   * with one label per sample (omit them for unlabelled rows); the oldest rows make room.
   */
  enqueue(features: tf.Tensor, labels?: ArrayLike<number>): void {
    check(
      features instanceof tf.Tensor,
      'features',
      'a tf.Tensor [batch, views, dim] or [rows, dim]',
      features,
    );
    const shape = features.shape;
    check(
      (shape.length === 2 || shape.length === 3) && shape.at(-1) === this.dim,
      'features',
      `shape [batch, views, ${this.dim}] or [rows, ${this.dim}]`,
      features,
    );
    const samples = shape[0]!;
    const views = shape.length === 3 ? shape[1]! : 1;
    if (labels !== undefined) {
      check(
        labels.length === samples,
        'labels',
        `${samples} labels (one per sample)`,
        `${labels.length} labels`,
      );
      for (let b = 0; b < samples; b++) {
        const y = labels[b]!;
        check(
          Number.isInteger(y) && y >= NO_LABEL,
          'labels',
          `integers >= ${NO_LABEL}`,
          `label ${y} at index ${b}`,
        );
      }
    }
    const values = features.dataSync() as Float32Array; // [B, V, dim] sample-major
    for (let b = 0; b < samples; b++) {
      for (let v = 0; v < views; v++) {
        const src = (b * views + v) * this.dim;
        this.rows.set(values.subarray(src, src + this.dim), this.next * this.dim);
        this.rowLabels[this.next] = labels === undefined ? NO_LABEL : labels[b]!;
        this.next = (this.next + 1) % this.capacity;
        this.filled = Math.min(this.filled + 1, this.capacity);
      }
    }
  }

  /** The held rows as a new tensor [size, dim] (oldest first) and their labels. */
  snapshot(): { features: tf.Tensor2D; labels: Int32Array } {
    const start = this.filled < this.capacity ? 0 : this.next;
    const out = new Float32Array(this.filled * this.dim);
    const labels = new Int32Array(this.filled);
    for (let k = 0; k < this.filled; k++) {
      const slot = (start + k) % this.capacity;
      out.set(this.rows.subarray(slot * this.dim, (slot + 1) * this.dim), k * this.dim);
      labels[k] = this.rowLabels[slot]!;
    }
    return { features: tf.tensor2d(out, [this.filled, this.dim]), labels };
  }

  /** Empties the queue (e.g. when the encoder changed too much for old rows to be useful). */
  clear(): void {
    this.next = 0;
    this.filled = 0;
    this.rowLabels.fill(NO_LABEL);
  }

  /** State for checkpoints: rows oldest first. */
  state(): { rows: Float32Array; labels: Int32Array } {
    const snap = this.snapshot();
    const rows = snap.features.dataSync() as Float32Array;
    snap.features.dispose();
    return { rows: Float32Array.from(rows), labels: snap.labels };
  }

  /** Restores what `state()` returned (rows oldest first; at most `capacity` are kept, the newest). */
  restore(state: { rows: Float32Array; labels: Int32Array }): void {
    const n = state.labels.length;
    check(
      state.rows.length === n * this.dim,
      'state.rows',
      `${n}×${this.dim} values`,
      `${state.rows.length} values`,
    );
    this.clear();
    const keep = Math.min(n, this.capacity);
    for (let k = n - keep; k < n; k++) {
      this.rows.set(state.rows.subarray(k * this.dim, (k + 1) * this.dim), this.next * this.dim);
      this.rowLabels[this.next] = state.labels[k]!;
      this.next = (this.next + 1) % this.capacity;
      this.filled++;
    }
  }
}

export interface QueueLossOptions {
  /** Softmax temperature τ. Default 0.1. */
  temperature?: number;
  /** The loss is scaled by τ / baseTemperature. Default: equal to `temperature`. */
  baseTemperature?: number;
  /** Anchors: every view ('all') or view 0 only ('one'). Default 'all'. */
  contrastMode?: 'all' | 'one';
  /** 'out': mean over positives outside the log (Eq. 2); 'in': inside (Eq. 3). Default 'out'. */
  variant?: 'out' | 'in';
  /** Anchors without positives: dropped from the mean ('exclude') or counted as 0 ('zero'). Default 'exclude'. */
  zeroPositives?: 'exclude' | 'zero';
  /** Anchors without negatives: scored ('include') or invalid like those without positives ('exclude'). Default 'include'. */
  zeroNegatives?: 'include' | 'exclude';
  /** 'mean' over anchors, 'sum', or 'none' (one loss per anchor, view-major). Default 'mean'. */
  reduction?: 'mean' | 'sum' | 'none';
}

const QUEUE_OPTIONS = new Set([
  'temperature',
  'baseTemperature',
  'contrastMode',
  'variant',
  'zeroPositives',
  'zeroNegatives',
  'reduction',
]);

/** A queue given directly: rows [K, D] and one label per row (NO_LABEL for none). */
export interface QueueRows {
  features: tf.Tensor2D;
  labels?: ArrayLike<number>;
}

/** Masked logits stand-in for −∞: exp underflows to exactly 0 and every gradient stays finite. */
const OUTSIDE = 1e9;

/**
 * log Σ_j exp(x_ij) per row of x [M, N] → [M], with the gradient written out: d/dx = softmax(x) · dy.
 * tf.logSumExp differentiates through its max (an Equal mask over all of x and a broadcast product,
 * both slow cpu kernels: the loss took 519 ms a step at [512, 4608] with them, 69 ms without); the
 * max only guards exp against overflow and its gradient contributions cancel.
 */
export function rowLogSumExp(x: tf.Tensor2D): tf.Tensor1D {
  const f = tf.customGrad((input, save) => {
    const v = input as tf.Tensor2D;
    const m = tf.max(v, 1, true); // [M, 1]
    const lse = tf.add(tf.log(tf.sum(tf.exp(tf.sub(v, m)), 1, true)), m); // [M, 1]
    (save as tf.GradSaveFunc)([v, lse]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor =>
      tf.tidy(() => tf.mul(tf.exp(tf.sub(saved[0]!, saved[1]!)), tf.expandDims(dy, 1))); // [M, N]
    return { value: tf.reshape(lse, [-1]), gradFunc }; // [M]
  });
  return f(x) as tf.Tensor1D;
}

/**
 * SupCon loss of `features` [B, V, D] (L2-normalised rows) contrasted with the batch and with the
 * rows of `queue`. `labels` [B] are integers >= 0; omit them for SimCLR with a queue.
 * Returns a scalar ('mean', 'sum') or the per-anchor losses [M] ('none'); the caller disposes it.
 */
export function supConQueueLoss(
  features: tf.Tensor,
  labels: ArrayLike<number> | undefined,
  queue: FeatureQueue | QueueRows,
  options: QueueLossOptions = {},
): tf.Tensor {
  knownOptions(options, QUEUE_OPTIONS);
  check(
    features instanceof tf.Tensor && features.rank === 3,
    'features',
    'a tf.Tensor [batch, views, dim]',
    features,
  );
  const [batch, views, dim] = features.shape as [number, number, number];
  check(batch > 0 && views > 0 && dim > 0, 'features', 'non-empty batch, views and dim', features);
  const { temperature, scale } = temperatureScale(options, 0.1);
  const mode = oneOf('contrastMode', options.contrastMode, ['all', 'one'] as const, 'all');
  const variant = oneOf('variant', options.variant, ['out', 'in'] as const, 'out');
  const zeroPositives = oneOf(
    'zeroPositives',
    options.zeroPositives,
    ['exclude', 'zero'] as const,
    'exclude',
  );
  const zeroNegatives = oneOf(
    'zeroNegatives',
    options.zeroNegatives,
    ['include', 'exclude'] as const,
    'include',
  );
  const reduction = oneOf('reduction', options.reduction, ['mean', 'sum', 'none'] as const, 'mean');
  if (labels !== undefined) {
    check(labels.length === batch, 'labels', `${batch} labels (one per sample)`, `${labels.length} labels`);
    for (let b = 0; b < batch; b++)
      check(
        Number.isInteger(labels[b]) && labels[b]! >= 0,
        'labels',
        'integers >= 0',
        `label ${labels[b]} at index ${b}`,
      );
  }

  const fromRing = queue instanceof FeatureQueue;
  if (fromRing) check(queue.dim === dim, 'queue', `rows of dim ${dim}`, `a queue of dim ${queue.dim}`);
  const rows = fromRing ? queue.snapshot() : { features: queue.features, labels: queue.labels };
  try {
    check(
      rows.features instanceof tf.Tensor && rows.features.rank === 2 && rows.features.shape[1] === dim,
      'queue.features',
      `a tf.Tensor [K, ${dim}]`,
      rows.features,
    );
    const k = rows.features.shape[0];
    const queueLabels = rows.labels;
    if (queueLabels !== undefined)
      check(
        queueLabels.length === k,
        'queue.labels',
        `${k} labels (one per row)`,
        `${queueLabels.length} labels`,
      );

    const n = batch * views; // batch rows, view-major: row v·B + b
    const m = mode === 'all' ? n : batch; // anchors: the first m rows
    const cols = n + k;
    // Host masks [m, cols]: `outside` (1 for the anchor itself) and `pos` (positives).
    const outside = new Float32Array(m * cols);
    const pos = new Float32Array(m * cols);
    const counts = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      const a = i % batch;
      outside[i * cols + i] = 1;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const s = j % batch;
        const same = labels === undefined ? s === a : labels[s] === labels[a];
        if (same) pos[i * cols + j] = 1;
      }
      if (labels !== undefined && queueLabels !== undefined) {
        for (let q = 0; q < k; q++) if (queueLabels[q] === labels[a]) pos[i * cols + n + q] = 1;
      }
      for (let j = 0; j < cols; j++) counts[i]! += pos[i * cols + j]!;
      // Every column but the anchor itself is a positive or a negative, so all positives means no
      // negative; 'exclude' then makes the anchor invalid the way a count of 0 positives does.
      if (zeroNegatives === 'exclude' && counts[i]! === cols - 1) counts[i] = 0;
    }
    let valid = 0;
    for (const c of counts) if (c > 0) valid++;

    return tf.tidy(() => {
      const batchRows = tf.reshape(tf.transpose(features, [1, 0, 2]), [n, dim]); // [N, D] view-major
      const anchors = m === n ? batchRows : tf.slice(batchRows, [0, 0], [m, dim]); // [M, D]
      const contrast = k > 0 ? tf.concat([batchRows, rows.features], 0) : batchRows; // [N + K, D]
      const logits = tf.div(tf.matMul(anchors, contrast, false, true), temperature); // [M, N + K]
      const inside = tf.sub(logits, tf.mul(tf.tensor2d(outside, [m, cols]), OUTSIDE)); // self masked out
      const lse = rowLogSumExp(inside as tf.Tensor2D); // [M]
      const posMask = tf.tensor2d(pos, [m, cols]); // [M, N + K]
      const count = tf.tensor1d(counts); // [M]
      const has = tf.cast(tf.greater(count, 0), 'float32'); // [M]
      const safeCount = tf.maximum(count, 1); // [M]
      let perAnchor: tf.Tensor1D; // [M]
      if (variant === 'out') {
        const meanPos = tf.div(tf.sum(tf.mul(logits, posMask), 1), safeCount); // [M]
        perAnchor = tf.mul(tf.sub(lse, meanPos), has);
      } else {
        const posLse = rowLogSumExp(tf.sub(logits, tf.mul(tf.sub(1, posMask), OUTSIDE)) as tf.Tensor2D); // [M]
        perAnchor = tf.mul(tf.add(tf.sub(lse, posLse), tf.log(safeCount)), has);
      }
      perAnchor = tf.mul(perAnchor, scale);
      if (reduction === 'none') return perAnchor;
      const total = tf.sum(perAnchor);
      if (reduction === 'sum') return total;
      return tf.div(total, Math.max(1, zeroPositives === 'zero' ? m : valid));
    });
  } finally {
    if (fromRing) rows.features.dispose();
  }
}
