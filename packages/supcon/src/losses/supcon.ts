/**
 * Supervised Contrastive loss (Khosla et al., NeurIPS 2020, https://arxiv.org/abs/2004.11362),
 * with every option of the reference implementations. SimCLR's NT-Xent is the no-label case.
 *
 *   L_out = Σ_i −1/|P(i)| Σ_{p∈P(i)} log( exp(z_i·z_p/τ) / Σ_{a∈A(i)} exp(z_i·z_a/τ) ) · τ/τ_base
 *
 * See docs/loss.md for the formula of every option and the mapping onto the reference code.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check, InvalidArgumentError } from '../errors.js';
import { type BlockConfig, type Denominator, runBlocks, type Variant } from './blocks.js';
import { knownOptions, oneOf, temperatureScale } from './options.js';
import { type PairSource, sourceTensors, withTensors } from './pairs.js';

export type ContrastMode = 'all' | 'one';
export type Reduction = 'mean' | 'pair-mean' | 'sum' | 'none';
export type ZeroPositives = 'exclude' | 'zero';
export type ZeroNegatives = 'include' | 'exclude';
export type { Denominator, Variant };

export interface SupConOptions {
  /** Softmax temperature τ. Default 0.1 (the paper's choice). */
  temperature?: number;
  /** The loss is scaled by τ / baseTemperature. Default: equal to `temperature` (scale 1). */
  baseTemperature?: number;
  /** Anchors: every view ('all') or view 0 only ('one'). Default 'all'. */
  contrastMode?: ContrastMode;
  /** 'out': mean over positives outside the log (Eq. 2); 'in': inside (Eq. 3). Default 'out'. */
  variant?: Variant;
  /** Which rows the softmax normalises over. Default 'all'. */
  denominator?: Denominator;
  /** At most this many positives per anchor besides its own views (a multiple of views); -1 = no cap. Default -1. */
  positivesCap?: number;
  /** Explicit positive weights [batch, batch] (exclusive with labels). */
  mask?: tf.Tensor2D | number[][];
  /** Anchors without positives: dropped from the mean ('exclude') or counted as 0 ('zero'). Default 'exclude'. */
  zeroPositives?: ZeroPositives;
  /**
   * Anchors without negatives (a one-class batch): scored over their positives ('include'), or
   * invalid like anchors without positives ('exclude': loss 0, no gradient; pytorch-metric-learning's
   * SupConLoss). Default 'include'.
   */
  zeroNegatives?: ZeroNegatives;
  /**
   * 'mean' over anchors; 'pair-mean' over positive pairs (each anchor weighted by Σ_j W, its number
   * of positives; pytorch-metric-learning's NTXentLoss); 'sum'; or 'none' (one loss per anchor,
   * view-major). Default 'mean'.
   */
  reduction?: Reduction;
  /** Anchor rows per block (memory ∝ rows × block). Default: about 4M logits per block. */
  blockRows?: number;
  /** Check that features are finite (one reduction and a 1-value download). Default true. */
  checkFinite?: boolean;
  /**
   * 'host': fused row passes in JS memory (fast on the cpu and native backends); 'tensor': whole-tensor
   * ops (any backend, e.g. WebGL). Default 'auto': 'host' on cpu and native, else 'tensor'.
   */
  implementation?: 'auto' | 'host' | 'tensor';
}

export type Labels = tf.Tensor | number[] | number[][] | Int32Array;

export interface SupConStats {
  /** The loss, reduced as asked. */
  loss: tf.Tensor;
  /** Number of anchors (N·V for contrast mode 'all', N for 'one'). */
  anchors: number;
  /** Anchors that had no positive at all (V = 1 with a unique label, or an empty mask row). */
  anchorsWithoutPositives: number;
  /** Anchors that counted towards the loss. */
  validAnchors: number;
}

const OPTION_NAMES = new Set([
  'temperature',
  'baseTemperature',
  'contrastMode',
  'variant',
  'denominator',
  'positivesCap',
  'mask',
  'zeroPositives',
  'zeroNegatives',
  'reduction',
  'blockRows',
  'checkFinite',
  'implementation',
]);

/** Backends whose tensors live in JS-visible host memory, where the fused host path pays. */
const HOST_BACKENDS = new Set(['cpu', 'native']);

/**
 * Whether every value of `t` is finite. On host backends one JavaScript pass over the values
 * (0·v is 0 for a finite v and NaN for NaN or ±Infinity): 0.06 ms for the demo's [256, 2, 128]
 * features on the native engine, where tfjs's IsFinite + All (cpu kernels) take 0.24 ms.
 */
function allFinite(t: tf.Tensor): boolean {
  if (!HOST_BACKENDS.has(tf.getBackend())) return tf.tidy(() => tf.all(tf.isFinite(t)).dataSync()[0] === 1);
  const values = t.dataSync() as Float32Array;
  let probe = 0;
  for (let i = 0; i < values.length; i++) probe += 0 * values[i]!;
  return probe === 0;
}

/** Logits per block: bounds the memory of one [block, N] slab to about 16 MiB per tensor. */
const LOGITS_PER_BLOCK = 1 << 22;

interface Resolved {
  temperature: number;
  scale: number;
  contrastMode: ContrastMode;
  variant: Variant;
  denominator: Denominator;
  positivesCap: number;
  zeroPositives: ZeroPositives;
  zeroNegatives: ZeroNegatives;
  reduction: Reduction;
  blockRows: number | undefined;
  checkFinite: boolean;
  implementation: 'auto' | 'host' | 'tensor';
}

function resolveOptions(options: SupConOptions): Resolved {
  knownOptions(options, OPTION_NAMES);
  const { temperature, scale } = temperatureScale(options, 0.1);
  const cap = options.positivesCap ?? -1;
  check(Number.isInteger(cap) && cap >= -1, 'positivesCap', 'an integer >= 0, or -1 for no cap', cap);
  const blockRows = options.blockRows;
  if (blockRows !== undefined)
    check(Number.isInteger(blockRows) && blockRows > 0, 'blockRows', 'an integer > 0', blockRows);
  const checkFinite = options.checkFinite ?? true;
  check(typeof checkFinite === 'boolean', 'checkFinite', 'a boolean', checkFinite);
  return {
    temperature,
    scale,
    contrastMode: oneOf('contrastMode', options.contrastMode, ['all', 'one'] as const, 'all'),
    variant: oneOf('variant', options.variant, ['out', 'in'] as const, 'out'),
    denominator: oneOf(
      'denominator',
      options.denominator,
      ['all', 'one-positive', 'only-negatives'] as const,
      'all',
    ),
    positivesCap: cap,
    zeroPositives: oneOf('zeroPositives', options.zeroPositives, ['exclude', 'zero'] as const, 'exclude'),
    zeroNegatives: oneOf('zeroNegatives', options.zeroNegatives, ['include', 'exclude'] as const, 'include'),
    reduction: oneOf('reduction', options.reduction, ['mean', 'pair-mean', 'sum', 'none'] as const, 'mean'),
    blockRows,
    checkFinite,
    implementation: oneOf(
      'implementation',
      options.implementation,
      ['auto', 'host', 'tensor'] as const,
      'auto',
    ),
  };
}

function isTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

/** Turns labels or a mask into a PairSource; all returned tensors are new and owned by the caller. */
function pairSource(labels: Labels | undefined, mask: SupConOptions['mask'], batch: number): PairSource {
  if (labels !== undefined && labels !== null && mask !== undefined) {
    throw new InvalidArgumentError(
      'mask',
      'no mask when labels are given (pass either labels or a mask)',
      mask,
    );
  }
  if (mask !== undefined) {
    const m = isTensor(mask) ? mask : Array.isArray(mask) ? tf.tensor(mask as number[][]) : undefined;
    check(m !== undefined, 'mask', `a tensor or nested array of shape [${batch}, ${batch}]`, mask);
    const shapeOk = m.rank === 2 && m.shape[0] === batch && m.shape[1] === batch;
    if (!shapeOk) {
      if (m !== mask) m.dispose();
      throw new InvalidArgumentError('mask', `shape [${batch}, ${batch}] (batch × batch)`, mask);
    }
    const values = m.dataSync();
    if (!values.every((v) => Number.isFinite(v) && v >= 0)) {
      if (m !== mask) m.dispose();
      throw new InvalidArgumentError(
        'mask',
        'finite weights >= 0',
        `a mask with ${firstBad(values, (v) => Number.isFinite(v) && v >= 0)}`,
      );
    }
    const owned = tf.cast(m, 'float32') as tf.Tensor2D;
    if (m !== mask) m.dispose();
    return { kind: 'mask', mask: owned, host: Float32Array.from(values) };
  }
  if (labels === undefined || labels === null) return { kind: 'instance' };

  const t = isTensor(labels) ? labels : tf.tensor(labels as number[] | number[][] | Int32Array);
  const disposeOwn = () => {
    if (t !== labels) t.dispose();
  };
  if (t.rank === 2) {
    if (t.shape[0] !== batch || t.shape[1] === 1) {
      disposeOwn();
      const expected =
        t.shape[1] === 1
          ? `integer labels of shape [${batch}] or multi-hot labels [${batch}, classes] (shape [batch, 1] is ambiguous: flatten it)`
          : `multi-hot labels of shape [${batch}, classes]`;
      throw new InvalidArgumentError('labels', expected, labels);
    }
    const values = t.dataSync();
    const ok = (v: number) => Number.isFinite(v) && v >= 0;
    if (!values.every(ok)) {
      disposeOwn();
      throw new InvalidArgumentError(
        'labels',
        'multi-hot values that are finite and >= 0',
        `labels with ${firstBad(values, ok)}`,
      );
    }
    const multiHot = tf.cast(tf.greater(t, 0), 'float32') as tf.Tensor2D;
    disposeOwn();
    return { kind: 'multiHot', labels: multiHot, host: Float32Array.from(values, (v) => (v > 0 ? 1 : 0)) };
  }
  if (t.rank !== 1 || t.shape[0] !== batch) {
    disposeOwn();
    throw new InvalidArgumentError(
      'labels',
      `${batch} integer labels (one per sample, features.shape[0])`,
      labels,
    );
  }
  const values = t.dataSync();
  const ok = (v: number) => Number.isInteger(v) && v >= 0;
  if (!values.every(ok)) {
    disposeOwn();
    throw new InvalidArgumentError('labels', 'integers >= 0', `labels with ${firstBad(values, ok)}`);
  }
  const host = Int32Array.from(values);
  const ints = tf.tensor1d(host, 'int32');
  disposeOwn();
  return { kind: 'labels', labels: ints, host };
}

/**
 * Row reorder between sample-major (row b·V + v) and view-major (row v·B + b) [B·V, D], as row copies.
 */
function reorderRows(t: tf.Tensor2D, batch: number, views: number, toViewMajor: boolean): tf.Tensor2D {
  const [rows, dim] = t.shape;
  const from = t.dataSync() as Float32Array;
  const to = new Float32Array(from.length);
  for (let b = 0; b < batch; b++) {
    for (let v = 0; v < views; v++) {
      const sampleMajor = (b * views + v) * dim;
      const viewMajor = (v * batch + b) * dim;
      const [src, dst] = toViewMajor ? [sampleMajor, viewMajor] : [viewMajor, sampleMajor];
      to.set(from.subarray(src, src + dim), dst);
    }
  }
  return tf.tensor2d(to, [rows, dim]);
}

function firstBad(values: ArrayLike<number>, ok: (v: number) => boolean): string {
  for (let i = 0; i < values.length; i++) if (!ok(values[i]!)) return `value ${values[i]} at flat index ${i}`;
  return 'no bad value';
}

/**
 * The loss and its statistics. Use `supConLoss` unless you need the counts.
 * The returned `loss` tensor is the caller's to dispose.
 */
export function supConLossWithStats(
  features: tf.Tensor,
  labels?: Labels,
  options: SupConOptions = {},
): SupConStats {
  check(isTensor(features), 'features', 'a tf.Tensor of shape [batch, views, dim]', features);
  check(features.rank >= 3, 'features', 'a tensor of rank >= 3 with shape [batch, views, ...dims]', features);
  const opts = resolveOptions(options);
  const [batch, views] = features.shape as [number, number];
  const dim = features.shape.slice(2).reduce((a, b) => a * b, 1);
  check(
    batch > 0 && views > 0 && dim > 0,
    'features',
    'non-empty batch, views and feature dimensions',
    features,
  );
  if (opts.positivesCap > -1) {
    check(
      opts.positivesCap % views === 0,
      'positivesCap',
      `a multiple of the number of views (${views})`,
      opts.positivesCap,
    );
  }
  if (opts.checkFinite) {
    const finite = allFinite(features);
    check(finite, 'features', 'finite values (no NaN or Infinity)', features);
  }
  const source = pairSource(labels, options.mask, batch);

  const rows = batch * views;
  const anchors = opts.contrastMode === 'all' ? rows : batch;
  const cfg: BlockConfig = {
    source,
    batch,
    views,
    anchors,
    temperature: opts.temperature,
    variant: opts.variant,
    denominator: opts.denominator,
    samplesCap: opts.positivesCap > -1 ? opts.positivesCap / views : undefined,
    zeroNegatives: opts.zeroNegatives,
    withPositives: opts.reduction === 'pair-mean',
    blockRows: Math.min(anchors, opts.blockRows ?? Math.max(1, Math.floor(LOGITS_PER_BLOCK / rows))),
    implementation:
      opts.implementation === 'auto'
        ? HOST_BACKENDS.has(tf.getBackend())
          ? 'host'
          : 'tensor'
        : opts.implementation,
  };

  let validAnchors: tf.Scalar | undefined;
  let withoutPositives: tf.Scalar | undefined;
  const reduce = opts.reduction !== 'none';
  const pairMean = opts.reduction === 'pair-mean';

  // The blocks want view-major rows. On host backends the reorder is a row copy in JS (the cpu
  // backend's transpose converts indices per element); elsewhere it is a transpose outside.
  const hostReorder = cfg.implementation === 'host' && views > 1;
  const toBlocks = (t: tf.Tensor2D) => (hostReorder ? reorderRows(t, batch, views, true) : t);
  const fromBlocks = (t: tf.Tensor2D) => (hostReorder ? reorderRows(t, batch, views, false) : t);

  const lossOf = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const f = toBlocks(args[0] as tf.Tensor2D); // [N, D] view-major
    const save = args[1] as tf.GradSaveFunc;
    // When a gradient will be taken of a reduced loss, the gradient costs little extra in the same
    // pass (the logits are already there), so compute it now instead of recomputing the blocks later.
    const eager = reduce && tf.engine().state.gradientDepth > 0;
    const run = runBlocks(cfg, f, eager ? (pairMean ? 'positives' : 'unit') : undefined);
    validAnchors = tf.keep(run.validAnchors);
    withoutPositives = tf.keep(run.anchorsWithoutPositives);
    // factor: d(value)/d(perAnchor), a scalar, or [M] for 'pair-mean' (perPair · Σ_j W per anchor).
    let factor: tf.Tensor;
    let gradFactor: tf.Tensor; // what the eager gradient (already weighted by Σ_j W for 'pair-mean') takes
    let value: tf.Tensor;
    if (pairMean) {
      const pairs = tf.sum(run.positives!); // Σ_i Σ_j W: positive pairs of valid anchors
      gradFactor = tf.div(opts.scale, tf.where(tf.greater(pairs, 0), pairs, tf.onesLike(pairs)));
      factor = tf.mul(run.positives!, gradFactor); // [M]
      value = tf.sum(tf.mul(run.perAnchor, factor));
    } else {
      const count = opts.zeroPositives === 'zero' ? tf.scalar(anchors) : tf.maximum(run.validAnchors, 1);
      factor = opts.reduction === 'mean' ? tf.div(opts.scale, count) : tf.scalar(opts.scale);
      gradFactor = factor;
      value = reduce ? tf.mul(tf.sum(run.perAnchor), factor) : tf.mul(run.perAnchor, opts.scale);
    }
    // The labels or mask are saved with the features: the gradient pass may run after this call returned.
    if (eager && run.grad) save([fromBlocks(tf.mul(run.grad, gradFactor) as tf.Tensor2D)]);
    else save([f, factor, ...sourceTensors(source)]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const upstream = dy as tf.Tensor;
        if (eager) return [tf.mul(upstream, saved[0]!)];
        const [savedFeatures, savedFactor, ...savedSource] = saved as [
          tf.Tensor2D,
          tf.Tensor,
          ...tf.Tensor[],
        ];
        const weights = reduce ? tf.mul(upstream, savedFactor) : tf.mul(upstream, opts.scale);
        const again = runBlocks({ ...cfg, source: withTensors(source, savedSource) }, savedFeatures, weights);
        return [fromBlocks(again.grad!)];
      },
    };
  });

  try {
    const loss = tf.tidy(() => {
      const flat = tf.reshape(features, [batch, views, dim]); // [B, V, D]
      const rowsIn = hostReorder ? flat : tf.transpose(flat, [1, 0, 2]); // [B, V, D] or [V, B, D]
      return lossOf(tf.cast(tf.reshape(rowsIn, [rows, dim]), 'float32')) as tf.Tensor; // [V·B, D] in blocks
    });
    const v = validAnchors!.dataSync()[0]!;
    const w = withoutPositives!.dataSync()[0]!;
    return { loss, anchors, anchorsWithoutPositives: w, validAnchors: v };
  } finally {
    validAnchors?.dispose();
    withoutPositives?.dispose();
    for (const t of sourceTensors(source)) t.dispose();
  }
}

/**
 * Supervised Contrastive loss of `features` [batch, views, dim] (used as given: L2-normalise them
 * first). With no labels and no mask it is SimCLR's NT-Xent.
 *
 * @example
 *   const z = tf.randomNormal([8, 2, 128]).div(...)   // [batch, views, dim], L2-normalised
 *   const loss = supConLoss(z, [0, 1, 0, 2, 1, 1, 0, 2], { temperature: 0.1 });
 */
export function supConLoss(features: tf.Tensor, labels?: Labels, options: SupConOptions = {}): tf.Tensor {
  return supConLossWithStats(features, labels, options).loss;
}

/** SimCLR's NT-Xent: the SupCon loss without labels (each sample's only positives are its other views). */
export function ntXentLoss(features: tf.Tensor, options: Omit<SupConOptions, 'mask'> = {}): tf.Tensor {
  return supConLoss(features, undefined, { temperature: 0.5, ...options });
}
