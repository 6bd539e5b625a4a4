/**
 * The SupCon loss family computed in row blocks, with an analytic gradient.
 *
 * Notation (rows are view-major, N = B·V contrast rows, M anchor rows, the first M of them):
 *   S[i, j] = f_i · f_j / τ                                   logits of anchor i against row j ≠ i
 *   W[i, j] ≥ 0                                               positive weights (1 for a same-label row)
 *   D(i)                                                      denominator set: positives ∪ negatives
 *                                                             ('all') or negatives only (the others)
 *   lse_i = log Σ_{j∈D(i)} exp S[i, j],  q[i, j] = softmax over D(i)
 *   α[i, j] = W[i, j] / Σ_j W[i, j]                           ('out': mean over positives outside the log)
 *   π[i, j] = softmax over positives of (x[i, j] + log W)     ('in': mean inside the log)
 * An anchor is valid when Σ_j W > 0 and, for 'only-negatives' or zeroNegatives 'exclude', it has a
 * negative; an invalid anchor scores 0 with a zero gradient. Σ_j W of the valid anchors is also the
 * weight of reduction 'pair-mean' (the mean over positive pairs).
 *
 * Gradient of one anchor's loss with respect to its logits row (derived by hand, see docs/loss.md):
 *   'all' | 'only-negatives':  G = q − w               with w = α ('out') or π ('in')
 *   'one-positive':            β = w · σ(lse_neg − S),  G = q · Σ_j β − β
 * and dL/dF follows from S = F_anchor F^T / τ. Only one [block, N] slab of logits is alive at a
 * time, so memory grows as rows × block instead of rows².
 */
import * as tf from '@tensorflow/tfjs-core';
import { hostBlock, hostSampleRows, type SampleRows } from './host.js';
import { blockPairs, type PairSource } from './pairs.js';

export type Variant = 'out' | 'in';
export type Denominator = 'all' | 'one-positive' | 'only-negatives';

export interface BlockConfig {
  source: PairSource;
  batch: number; // B
  views: number; // V
  anchors: number; // M: N for contrast mode 'all', B for 'one'
  temperature: number;
  variant: Variant;
  denominator: Denominator;
  /** Samples kept as positives per anchor besides its own views (positivesCap / V); undefined = no cap. */
  samplesCap: number | undefined;
  /** 'exclude': an anchor without negatives is invalid (loss 0, no gradient), as for 'only-negatives'. */
  zeroNegatives: 'include' | 'exclude';
  /** Also return Σ_j W per anchor (the weights of reduction 'pair-mean'). */
  withPositives: boolean;
  /** Anchor rows per block. */
  blockRows: number;
  /** 'tensor': whole-tensor ops (any backend); 'host': fused row passes on host memory (cpu, native). */
  implementation: 'tensor' | 'host';
}

export interface BlockRun {
  /** Unscaled loss per anchor [M] (0 for invalid anchors). */
  perAnchor: tf.Tensor1D;
  /** Number of valid anchors (those with positives and, for 'only-negatives', with negatives). */
  validAnchors: tf.Scalar;
  /** Number of anchors without any positive. */
  anchorsWithoutPositives: tf.Scalar;
  /** Σ_j W[i, j] per anchor [M], 0 for invalid anchors (when `withPositives`). */
  positives?: tf.Tensor1D;
  /** Σ_i weight_i · dloss_i/dF [N, D] when row weights were given. */
  grad?: tf.Tensor2D;
}

/** Stand-in for −∞ that keeps every intermediate finite on every backend. */
const EMPTY = -1e30;

/** log Σ exp over the entries of each row where `member` is true, and the matching softmax. */
function maskedLogSumExp(logits: tf.Tensor2D, member: tf.Tensor2D): { lse: tf.Tensor2D; q: tf.Tensor2D } {
  const masked = tf.where(member, logits, tf.scalar(EMPTY) as unknown as tf.Tensor2D); // [b, N]
  const rowMax = tf.max(masked, 1, true); // [b, 1]; EMPTY when the set is empty
  const e = tf.mul(tf.exp(tf.sub(masked, rowMax)), tf.cast(member, 'float32')); // [b, N]
  const z = tf.sum(e, 1, true); // [b, 1]
  const zSafe = tf.where(tf.greater(z, 0), z, tf.onesLike(z)); // [b, 1]
  return { lse: tf.add(rowMax, tf.log(zSafe)) as tf.Tensor2D, q: tf.div(e, zSafe) as tf.Tensor2D };
}

function sumRows(x: tf.Tensor): tf.Tensor1D {
  return tf.sum(x, 1) as tf.Tensor1D;
}

interface BlockOutput {
  loss: tf.Tensor1D; // [b]
  valid: tf.Tensor1D; // [b] 0/1
  withoutPositives: tf.Scalar;
  positives?: tf.Tensor1D; // [b] Σ_j W, 0 for invalid anchors
  logitsGrad?: tf.Tensor2D; // [b, N]
}

/**
 * One block of anchors [rowStart, rowEnd): per-anchor loss and validity, and the logits gradient G.
 */
function block(
  cfg: BlockConfig,
  features: tf.Tensor2D, // [N, D]
  scaledFeatures: tf.Tensor2D, // [N, D] features / τ
  rowStart: number,
  rowEnd: number,
  withGrad: boolean,
): BlockOutput {
  const rows = rowEnd - rowStart;
  const dim = features.shape[1];
  const anchors = tf.slice(scaledFeatures, [rowStart, 0], [rows, dim]); // [b, D]
  const logits = tf.matMul(anchors, features, false, true) as tf.Tensor2D; // [b, N]
  const { positives, negatives } = blockPairs(
    cfg.source,
    rowStart,
    rowEnd,
    cfg.batch,
    cfg.views,
    cfg.samplesCap,
  );
  const isPositive = tf.greater(positives, 0) as tf.Tensor2D; // [b, N] bool
  const isNegative = tf.greater(negatives, 0) as tf.Tensor2D; // [b, N] bool
  const positiveCount = sumRows(positives); // [b] Σ_j W
  const hasPositives = tf.greater(positiveCount, 0); // [b]
  const requireNegatives = cfg.denominator === 'only-negatives' || cfg.zeroNegatives === 'exclude';
  const valid = requireNegatives
    ? tf.logicalAnd(hasPositives, tf.greater(sumRows(negatives), 0))
    : hasPositives; // [b]
  const countSafe = tf.expandDims(tf.where(hasPositives, positiveCount, tf.onesLike(positiveCount)), 1); // [b, 1]

  const denominatorSet = cfg.denominator === 'all' ? tf.logicalOr(isPositive, isNegative) : isNegative; // [b, N]
  const { lse, q } = maskedLogSumExp(logits, denominatorSet as tf.Tensor2D); // [b, 1], [b, N]

  // x[i, j] = log(exp S_ij / den_ij), the log-probability of positive j.
  const onePositive = cfg.denominator === 'one-positive';
  const gap = onePositive ? tf.sub(lse, logits) : undefined; // [b, N] lse_neg − S
  const logProb = gap ? tf.neg(tf.softplus(gap)) : tf.sub(logits, lse); // [b, N]

  let loss: tf.Tensor1D; // [b]
  let positiveWeights: tf.Tensor2D; // [b, N] α or π
  if (cfg.variant === 'out') {
    positiveWeights = tf.div(positives, countSafe) as tf.Tensor2D; // α
    loss = tf.neg(sumRows(tf.mul(positiveWeights, logProb))); // −Σ α x
  } else {
    const logWeights = tf.log(tf.where(isPositive, positives, tf.onesLike(positives))); // [b, N]
    const inner = maskedLogSumExp(tf.add(logProb, logWeights) as tf.Tensor2D, isPositive); // log Σ W e^x
    positiveWeights = inner.q; // π
    loss = tf.squeeze(tf.sub(tf.log(countSafe), inner.lse), [1]) as tf.Tensor1D; // log ΣW − log Σ W e^x
  }
  const zeros = tf.zerosLike(loss);
  const result: BlockOutput = {
    loss: tf.where(valid, loss, zeros) as tf.Tensor1D,
    valid: tf.cast(valid, 'float32') as tf.Tensor1D,
    withoutPositives: tf.sum(tf.cast(tf.logicalNot(hasPositives), 'float32')) as tf.Scalar,
  };
  if (cfg.withPositives) result.positives = tf.where(valid, positiveCount, zeros) as tf.Tensor1D; // [b]
  if (!withGrad) return result;

  let logitsGrad: tf.Tensor2D; // [b, N]
  if (gap) {
    const beta = tf.mul(positiveWeights, tf.sigmoid(gap)); // [b, N]
    logitsGrad = tf.sub(tf.mul(q, tf.sum(beta, 1, true)), beta) as tf.Tensor2D;
  } else {
    logitsGrad = tf.sub(q, positiveWeights) as tf.Tensor2D;
  }
  logitsGrad = tf.where(tf.expandDims(valid, 1), logitsGrad, tf.zerosLike(logitsGrad)) as tf.Tensor2D;
  return { ...result, logitsGrad };
}

/** The same outputs as `block`, computed by the fused host passes of host.ts. */
function hostBlockTensors(
  cfg: BlockConfig,
  sampleRows: SampleRows,
  features: tf.Tensor2D,
  scaledFeatures: tf.Tensor2D,
  rowStart: number,
  rowEnd: number,
  withGrad: boolean,
): BlockOutput {
  const rows = rowEnd - rowStart;
  const n = features.shape[0];
  const anchors = tf.slice(scaledFeatures, [rowStart, 0], [rows, features.shape[1]]); // [b, D]
  const logits = tf.matMul(anchors, features, false, true); // [b, N]
  const values = logits.dataSync() as Float32Array;
  const spec = {
    rowStart,
    rows,
    batch: cfg.batch,
    views: cfg.views,
    variant: cfg.variant,
    denominator: cfg.denominator,
    requireNegatives: cfg.zeroNegatives === 'exclude',
    withPositives: cfg.withPositives,
    withGrad,
  };
  const h = hostBlock(values, spec, sampleRows);
  const out: BlockOutput = {
    loss: tf.tensor1d(h.loss),
    valid: tf.tensor1d(h.valid),
    withoutPositives: tf.scalar(h.withoutPositives),
  };
  if (h.positives) out.positives = tf.tensor1d(h.positives);
  if (h.logitsGrad) out.logitsGrad = tf.tensor2d(h.logitsGrad, [rows, n]);
  return out;
}

/**
 * Runs every block. With `rowWeights` ([M], a scalar, 'unit' for weight 1, or 'positives' for
 * weight Σ_j W[i, j], which needs `cfg.withPositives`), also returns Σ_i rowWeights_i · d(loss_i)/dF [N, D].
 */
export function runBlocks(
  cfg: BlockConfig,
  features: tf.Tensor2D,
  rowWeights?: tf.Tensor | 'unit' | 'positives',
): BlockRun {
  const sampleRows =
    cfg.implementation === 'host' ? hostSampleRows(cfg.source, cfg.batch, cfg.samplesCap) : undefined;
  const [rowsTotal, dim] = features.shape;
  const scaledFeatures = tf.div(features, cfg.temperature) as tf.Tensor2D; // [N, D]
  const losses: tf.Tensor1D[] = [];
  const positives: tf.Tensor1D[] = [];
  const anchorGrads: tf.Tensor2D[] = [];
  let validAnchors: tf.Scalar = tf.scalar(0);
  let withoutPositives: tf.Scalar = tf.scalar(0);
  let contrastGrad: tf.Tensor2D | undefined;
  const swap = <T extends tf.Tensor>(old: T, next: T): T => {
    old.dispose();
    return next;
  };

  for (let start = 0; start < cfg.anchors; start += cfg.blockRows) {
    const end = Math.min(cfg.anchors, start + cfg.blockRows);
    const out = tf.tidy(() => {
      const withGrad = rowWeights !== undefined;
      const r = sampleRows
        ? hostBlockTensors(cfg, sampleRows, features, scaledFeatures, start, end, withGrad)
        : block(cfg, features, scaledFeatures, start, end, withGrad);
      if (!r.logitsGrad || !rowWeights) return { ...r, anchorGrad: undefined, contrast: undefined };
      let g = r.logitsGrad; // [b, N] dL/dS
      if (rowWeights === 'positives') {
        g = tf.mul(g, tf.expandDims(r.positives!, 1)) as tf.Tensor2D; // [b, N]
      } else if (rowWeights !== 'unit') {
        const weights =
          rowWeights.rank === 0 ? rowWeights : tf.expandDims(tf.slice(rowWeights, [start], [end - start]), 1);
        g = tf.mul(g, weights) as tf.Tensor2D;
      }
      const anchorBlock = tf.slice(scaledFeatures, [start, 0], [end - start, dim]); // [b, D]
      return {
        ...r,
        anchorGrad: tf.matMul(g, scaledFeatures) as tf.Tensor2D, // [b, D] through the anchor side
        contrast: tf.matMul(g, anchorBlock, true, false) as tf.Tensor2D, // [N, D] through the contrast side
      };
    });
    out.logitsGrad?.dispose();
    losses.push(out.loss);
    if (out.positives) positives.push(out.positives);
    validAnchors = swap(validAnchors, tf.add(validAnchors, tf.sum(out.valid)));
    out.valid.dispose();
    withoutPositives = swap(withoutPositives, tf.add(withoutPositives, out.withoutPositives));
    out.withoutPositives.dispose();
    if (out.anchorGrad && out.contrast) {
      anchorGrads.push(out.anchorGrad);
      contrastGrad = contrastGrad ? swap(contrastGrad, tf.add(contrastGrad, out.contrast)) : out.contrast;
      if (contrastGrad !== out.contrast) out.contrast.dispose();
    }
  }
  scaledFeatures.dispose();
  const perAnchor = losses.length === 1 ? losses[0]! : tf.concat(losses);
  if (losses.length > 1) for (const l of losses) l.dispose();
  const run: BlockRun = { perAnchor, validAnchors, anchorsWithoutPositives: withoutPositives };
  if (positives.length > 0) {
    run.positives = positives.length === 1 ? positives[0]! : tf.concat(positives); // [M]
    if (positives.length > 1) for (const p of positives) p.dispose();
  }
  if (contrastGrad) {
    const anchorGrad = tf.concat(anchorGrads); // [M, D]
    const padded =
      rowsTotal > cfg.anchors
        ? tf.pad(anchorGrad, [
            [0, rowsTotal - cfg.anchors],
            [0, 0],
          ])
        : anchorGrad;
    run.grad = tf.add(contrastGrad, padded) as tf.Tensor2D; // [N, D]
    for (const t of [...anchorGrads, anchorGrad, padded, contrastGrad]) if (!t.isDisposed) t.dispose();
  }
  return run;
}
