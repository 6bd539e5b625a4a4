/**
 * The fused host implementation of one block: for backends whose tensors live in JS memory
 * (`cpu`, `native`), the [block, N] logits are read once and every per-row quantity (masks, maxima,
 * log-sum-exps, loss, logits gradient) is computed in a few passes over each row, in float64,
 * instead of ~30 whole-tensor ops that each allocate a [block, N] array. The matrix products stay
 * on the backend. The tensor implementation in blocks.ts is the reference it is tested against.
 */
import { getLossRowKernel } from '../kernels.js';
import type { Denominator, Variant } from './blocks.js';
import type { PairSource } from './pairs.js';

/** Writes row `a` of the untiled positive matrix U [B] and of its capped version. */
export type SampleRows = (a: number, uncapped: Float32Array, capped: Float32Array) => void;

export function hostSampleRows(
  source: PairSource,
  batch: number,
  samplesCap: number | undefined,
): SampleRows {
  let fill: (a: number, out: Float32Array) => void;
  switch (source.kind) {
    case 'instance':
      fill = (a, out) => {
        out.fill(0);
        out[a] = 1;
      };
      break;
    case 'labels': {
      const labels = source.host;
      fill = (a, out) => {
        const la = labels[a];
        for (let s = 0; s < batch; s++) out[s] = labels[s] === la ? 1 : 0;
      };
      break;
    }
    case 'multiHot': {
      // Pack each sample's labels into 32-bit words: sharing a label is one AND per word.
      const classes = source.host.length / batch;
      const words = Math.ceil(classes / 32);
      const bits = new Uint32Array(batch * words);
      for (let s = 0; s < batch; s++) {
        for (let k = 0; k < classes; k++)
          if (source.host[s * classes + k]! > 0) bits[s * words + (k >> 5)]! |= 1 << (k & 31);
      }
      fill = (a, out) => {
        for (let s = 0; s < batch; s++) {
          let shared = 0;
          for (let w = 0; w < words; w++) shared |= bits[a * words + w]! & bits[s * words + w]!;
          out[s] = shared !== 0 ? 1 : 0;
        }
      };
      break;
    }
    case 'mask': {
      const mask = source.host;
      fill = (a, out) => out.set(mask.subarray(a * batch, (a + 1) * batch));
      break;
    }
  }
  return (a, uncapped, capped) => {
    fill(a, uncapped);
    if (samplesCap === undefined) {
      capped.set(uncapped);
      return;
    }
    let kept = 0;
    for (let s = 0; s < batch; s++) {
      const keep = s === a || (uncapped[s]! > 0 && kept++ < samplesCap);
      capped[s] = keep ? uncapped[s]! : 0;
    }
  };
}

export interface HostBlockOutput {
  loss: Float32Array; // [b] unscaled, 0 for invalid anchors
  valid: Float32Array; // [b] 0/1
  withoutPositives: number;
  logitsGrad?: Float32Array; // [b, N]
  positives?: Float32Array; // [b] Σ_j W of valid anchors, 0 for invalid ones
}

/** One block of anchor rows [rowStart, rowStart + rows) and what to compute for it. */
export interface HostBlockSpec {
  rowStart: number;
  rows: number;
  batch: number; // B
  views: number; // V
  variant: Variant;
  denominator: Denominator;
  /** An anchor without negatives is invalid (loss 0, no gradient), whatever the denominator. */
  requireNegatives: boolean;
  /** Also return Σ_j W per anchor (the weights of reduction 'pair-mean'). */
  withPositives: boolean;
  withGrad: boolean;
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

const DENOMINATOR_CODE: Record<Denominator, 0 | 1 | 2> = { all: 0, 'one-positive': 1, 'only-negatives': 2 };

/** Zeroed outputs for `rows` anchors; the logits gradient [rows, n] only when asked for. */
function emptyOutput(spec: HostBlockSpec): HostBlockOutput {
  const { rows, batch, views } = spec;
  const out: HostBlockOutput = {
    loss: new Float32Array(rows),
    valid: new Float32Array(rows),
    withoutPositives: 0,
  };
  if (spec.withGrad) out.logitsGrad = new Float32Array(rows * batch * views);
  if (spec.withPositives) out.positives = new Float32Array(rows);
  return out;
}

/**
 * Loss (and logits gradient) for anchor rows [rowStart, rowStart + b) given their logits S [b, N]:
 * in native code (multi-threaded) when @supcon/native is loaded, else the JS passes below.
 * The native kernel knows neither `requireNegatives` nor the positive weights: both are applied
 * here from the sample rows (O(B) per anchor, against the kernel's O(N)).
 */
export function hostBlock(
  logits: Float32Array,
  spec: HostBlockSpec,
  sampleRows: SampleRows,
): HostBlockOutput {
  const kernel = getLossRowKernel(); // the native twin (packages/native/src/cc/supcon_rows.cc), if installed
  if (!kernel) return hostBlockJs(logits, spec, sampleRows);
  const { rowStart, rows, batch, views } = spec;
  const n = batch * views;
  const uncapped = new Float32Array(rows * batch); // [b, B]
  const capped = new Float32Array(rows * batch); // [b, B]
  for (let i = 0; i < rows; i++) {
    const at = i * batch;
    sampleRows((rowStart + i) % batch, uncapped.subarray(at, at + batch), capped.subarray(at, at + batch));
  }
  const out = emptyOutput(spec); // zero-filled: the kernel writes only the set entries
  const grad = out.logitsGrad ?? null;
  out.withoutPositives = kernel({
    logits,
    uncapped,
    capped,
    rowStart,
    rows,
    batch,
    views,
    variant: spec.variant === 'out' ? 0 : 1,
    denominator: DENOMINATOR_CODE[spec.denominator],
    loss: out.loss,
    valid: out.valid,
    grad,
  });
  if (!spec.requireNegatives && !out.positives) return out;
  for (let i = 0; i < rows; i++) {
    if (out.valid[i] === 0) continue;
    const a = (rowStart + i) % batch;
    const at = i * batch;
    let zeros = 0; // samples that are no positive at all: each of their views is a negative
    let weight = 0; // Σ_s Ucap[a, s]
    for (let s = 0; s < batch; s++) {
      if (uncapped[at + s] === 0) zeros++;
      weight += capped[at + s]!;
    }
    // Every view of those samples but the anchor row itself (a view of sample a).
    const negatives = views * zeros - (uncapped[at + a] === 0 ? 1 : 0);
    if (spec.requireNegatives && negatives === 0) {
      out.valid[i] = 0;
      out.loss[i] = 0;
      grad?.fill(0, i * n, (i + 1) * n);
    } else if (out.positives) out.positives[i] = views * weight - capped[at + a]!;
  }
  return out;
}

/** The JS passes (any runtime). */
export function hostBlockJs(
  logits: Float32Array,
  spec: HostBlockSpec,
  sampleRows: SampleRows,
): HostBlockOutput {
  const { rowStart, rows, batch, views, variant, denominator } = spec;
  const n = batch * views;
  const out = emptyOutput(spec);
  const grad = out.logitsGrad;
  const uncapped = new Float32Array(batch);
  const capped = new Float32Array(batch);
  const kind = new Int8Array(n); // 1 positive, -1 negative, 0 neither (self or capped away)
  const expD = new Float64Array(n); // exp(S − max) over the denominator set
  const logY = new Float64Array(n); // 'in': log p + log W per positive
  const denAll = denominator === 'all';
  const onePositive = denominator === 'one-positive';
  const requireNegatives = spec.requireNegatives || denominator === 'only-negatives';

  for (let i = 0; i < rows; i++) {
    const r = rowStart + i;
    const off = i * n;
    sampleRows(r % batch, uncapped, capped);

    // Pass 1: which column is what; Σ W, negatives, maxima.
    let count = 0;
    let negatives = 0;
    let maxPos = Number.NEGATIVE_INFINITY;
    let maxNeg = Number.NEGATIVE_INFINITY;
    for (let v = 0, j = 0; v < views; v++) {
      for (let s = 0; s < batch; s++, j++) {
        const x = logits[off + j]!;
        if (j === r) kind[j] = 0;
        else if (capped[s]! > 0) {
          kind[j] = 1;
          count += capped[s]!;
          if (x > maxPos) maxPos = x;
        } else if (uncapped[s] === 0) {
          kind[j] = -1;
          negatives++;
          if (x > maxNeg) maxNeg = x;
        } else kind[j] = 0;
      }
    }
    if (count === 0) out.withoutPositives++;
    if (count === 0 || (requireNegatives && negatives === 0)) continue; // invalid: loss 0, grad 0
    out.valid[i] = 1;
    if (out.positives) out.positives[i] = count;

    // Pass 2: log-sum-exp over the denominator set D (positives ∪ negatives for 'all').
    const max = denAll ? Math.max(maxPos, maxNeg) : maxNeg;
    let z = 0;
    for (let j = 0; j < n; j++) {
      const k = kind[j]!;
      if (k === -1 || (denAll && k === 1)) {
        const e = Math.exp(logits[off + j]! - max);
        expD[j] = e;
        z += e;
      }
    }
    const hasD = z > 0; // false only for 'one-positive' without negatives: den = exp(S_p)
    const lse = hasD ? max + Math.log(z) : Number.NEGATIVE_INFINITY;

    // Pass 3: the loss; for 'in' also the weighted softmax over positives of log p + log W.
    const scaleOut = 1 / count;
    let loss = 0;
    let lseY = 0;
    if (variant === 'out') {
      for (let v = 0, j = 0; v < views; v++) {
        for (let s = 0; s < batch; s++, j++) {
          if (kind[j] !== 1) continue;
          const x = logits[off + j]!;
          loss += capped[s]! * (onePositive ? (hasD ? softplus(lse - x) : 0) : lse - x);
        }
      }
      loss *= scaleOut;
    } else {
      let maxY = Number.NEGATIVE_INFINITY;
      for (let v = 0, j = 0; v < views; v++) {
        for (let s = 0; s < batch; s++, j++) {
          if (kind[j] !== 1) continue;
          const x = logits[off + j]!;
          const logProb = onePositive ? (hasD ? -softplus(lse - x) : 0) : x - lse;
          const y = logProb + Math.log(capped[s]!);
          logY[j] = y;
          if (y > maxY) maxY = y;
        }
      }
      let zY = 0;
      for (let j = 0; j < n; j++) if (kind[j] === 1) zY += Math.exp(logY[j]! - maxY);
      lseY = maxY + Math.log(zY);
      loss = Math.log(count) - lseY;
    }
    out.loss[i] = loss;
    if (!grad) continue;

    // Pass 4: dloss/dS. w' = W/ΣW ('out') or the softmax above ('in').
    const invZ = hasD ? 1 / z : 0;
    if (!onePositive) {
      // G = q − w'
      for (let v = 0, j = 0; v < views; v++) {
        for (let s = 0; s < batch; s++, j++) {
          const k = kind[j]!;
          if (k === 0) continue;
          let g = k === -1 || denAll ? expD[j]! * invZ : 0;
          if (k === 1) g -= variant === 'out' ? capped[s]! * scaleOut : Math.exp(logY[j]! - lseY);
          grad[off + j] = g;
        }
      }
    } else {
      // β = w' · σ(lse_neg − S);  G_pos = −β,  G_neg = q_neg · Σβ
      let sumBeta = 0;
      for (let v = 0, j = 0; v < views; v++) {
        for (let s = 0; s < batch; s++, j++) {
          if (kind[j] !== 1) continue;
          const w = variant === 'out' ? capped[s]! * scaleOut : Math.exp(logY[j]! - lseY);
          const beta = hasD ? w / (1 + Math.exp(logits[off + j]! - lse)) : 0;
          grad[off + j] = -beta;
          sumBeta += beta;
        }
      }
      for (let j = 0; j < n; j++) if (kind[j] === -1) grad[off + j] = expD[j]! * invZ * sumBeta;
    }
  }
  return out;
}
