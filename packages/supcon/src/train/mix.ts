/**
 * Mixup (Zhang et al. 2018, https://arxiv.org/abs/1710.09412) and CutMix (Yun et al. 2019,
 * https://arxiv.org/abs/1905.04899) for the cross-entropy method: a batch is blended with a shuffled
 * copy of itself, and so are its targets. Supcon and simclr refuse them: a blend of two labels says
 * nothing about which views are positives.
 *
 * Notation: B samples of V views, rows in sample-major order (row i·V + v is view v of sample i),
 * C classes, H × W views; π a permutation of the B samples (row i·V + v is paired with π(i)·V + v);
 * λ ~ Beta(α, α), one per batch.
 *   mixup:  x̃ = λ·x + (1 − λ)·x_π
 *   cutmix: a box of about (1 − λ)·H·W pixels, its centre uniform over the image and its sides
 *           clipped at the borders, is pasted from x_π; λ then becomes 1 − box area / (H·W)
 *   target: t̃ = λ·s(y) + (1 − λ)·s(y_π), with s(y) = (1 − ε)·onehot(y) + ε/C (label smoothing ε)
 * and the loss is the soft-target cross-entropy −mean_rows Σ_c t̃_c · log softmax(z)_c (loss.ts).
 *
 * Every draw of a batch (whether it is mixed, which kind, λ, π, the box centre) comes from one stream
 * seeded by (seed, iteration), so a resumed run redraws exactly what it would have drawn (the sampler's
 * habit: a pure function of explicit inputs, no RNG state in the checkpoint).
 */
import * as tf from '@tensorflow/tfjs-core';
import { hashSeed, Random } from '../augment/random.js';
import { check } from '../errors.js';
import type { TrainConfig } from './config.js';

/** One batch's mix: the kind, the (for cutmix, corrected) λ, π over the B samples, and the box. */
export interface BatchMix {
  kind: 'mixup' | 'cutmix';
  /** The weight of each sample's own image and label, in [0, 1]. */
  lambda: number;
  /** π [B]: sample i is mixed with sample permutation[i]. */
  permutation: Int32Array;
  /** cutmix only: the pasted rows [top, bottom) × columns [left, right). */
  box?: CutBox;
}

/** A box of rows [top, bottom) and columns [left, right), possibly empty. */
export interface CutBox {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** The TrainConfig fields of mixing. */
export type MixConfig = Pick<TrainConfig, 'method' | 'mixupAlpha' | 'cutmixAlpha' | 'mixProb'>;

/** Separates the mixing stream from the augmentation's (seed, epoch, index, view) streams. */
const MIX_STREAM = 0x6d697875;

/** Validates the mixing fields of a resolved config (InvalidArgumentError naming the field); drops a mixProb of 1. */
export function resolveMixConfig(c: MixConfig): void {
  if (c.mixProb === 1) delete c.mixProb;
  for (const name of ['mixupAlpha', 'cutmixAlpha'] as const) {
    const alpha = c[name];
    check(
      alpha === undefined || (Number.isFinite(alpha) && alpha > 0),
      name,
      'a finite Beta concentration α > 0 (absent: off)',
      alpha,
    );
    check(
      alpha === undefined || c.method === 'ce',
      name,
      'no value for the supcon and simclr methods (a mixed label defines no positives; mixing is a cross-entropy option)',
      alpha,
    );
  }
  const p = c.mixProb;
  check(
    p === undefined || (Number.isFinite(p) && p > 0 && p <= 1),
    'mixProb',
    'a probability in (0, 1] (the share of batches mixed; absent: 1)',
    p,
  );
  check(
    p === undefined || c.mixupAlpha !== undefined || c.cutmixAlpha !== undefined,
    'mixProb',
    'no value without mixupAlpha or cutmixAlpha',
    p,
  );
}

/** Whether `config` mixes batches at all. */
export function mixes(config: Pick<TrainConfig, 'mixupAlpha' | 'cutmixAlpha'>): boolean {
  return config.mixupAlpha !== undefined || config.cutmixAlpha !== undefined;
}

/**
 * The mix of the batch at `iteration` (undefined: this batch is not mixed): with probability mixProb
 * the batch is mixed; with both α set, cutmix or mixup with probability ½ each; then λ ~ Beta(α, α),
 * π a uniform shuffle of the `batch` samples, and for cutmix the box on `height` × `width` views.
 *
 * @example
 *   const mix = drawMix({ method: 'ce', mixupAlpha: 0.2 }, { seed: 0, iteration: 5, batch: 128, height: 28, width: 28 });
 */
export function drawMix(
  config: MixConfig,
  at: { seed: number; iteration: number; batch: number; height: number; width: number },
): BatchMix | undefined {
  const { mixupAlpha, cutmixAlpha } = config;
  if (mixupAlpha === undefined && cutmixAlpha === undefined) return undefined;
  const rng = new Random(hashSeed(at.seed, MIX_STREAM, at.iteration));
  if (!rng.chance(config.mixProb ?? 1)) return undefined;
  const cut =
    mixupAlpha !== undefined && cutmixAlpha !== undefined ? rng.chance(0.5) : cutmixAlpha !== undefined;
  const alpha = (cut ? cutmixAlpha : mixupAlpha)!;
  const drawn = sampleBeta(rng, alpha, alpha);
  const permutation = new Int32Array(at.batch);
  for (let i = 0; i < at.batch; i++) permutation[i] = i;
  rng.shuffle(permutation);
  if (!cut) return { kind: 'mixup', lambda: drawn, permutation };
  const box = cutmixBox(drawn, [rng.int(0, at.height), rng.int(0, at.width)], at.height, at.width);
  return { kind: 'cutmix', lambda: cutmixLambda(box, at.height, at.width), permutation, box };
}

/**
 * The cutmix box for λ centred at [row, column] on an h × w image: sides ⌊h·√(1 − λ)⌋ × ⌊w·√(1 − λ)⌋
 * (area fraction about 1 − λ), starting half a side (rounded down) above and left of the centre, each
 * edge clipped to the image, so a box near a border is smaller.
 */
export function cutmixBox(lambda: number, centre: [number, number], h: number, w: number): CutBox {
  const side = Math.sqrt(1 - lambda);
  const cutH = Math.floor(h * side);
  const cutW = Math.floor(w * side);
  const top = centre[0] - Math.floor(cutH / 2);
  const left = centre[1] - Math.floor(cutW / 2);
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  return { top: clip(top, h), bottom: clip(top + cutH, h), left: clip(left, w), right: clip(left + cutW, w) };
}

/** The λ that matches what a box pastes: 1 − box area / image area. */
export function cutmixLambda(box: CutBox, h: number, w: number): number {
  return 1 - ((box.bottom - box.top) * (box.right - box.left)) / (h * w);
}

/**
 * The mixed views: `x` [B·V, H, W, C] normalised views in sample-major order, each row blended with
 * (mixup) or pasted into from (cutmix) the same view of its sample's partner π(i).
 */
export function mixImages(x: tf.Tensor4D, mix: BatchMix, views: number): tf.Tensor4D {
  const [rows, h, w] = x.shape;
  check(
    rows === mix.permutation.length * views,
    'x',
    `${mix.permutation.length * views} rows (B·V)`,
    `${rows} rows`,
  );
  return tf.tidy(() => {
    const partnerRows = Int32Array.from({ length: rows }, (_, r) => {
      const sample = Math.floor(r / views);
      return mix.permutation[sample]! * views + (r % views);
    }); // [B·V]
    const partner = tf.gather(x, tf.tensor1d(partnerRows, 'int32')); // [B·V, H, W, C]
    if (mix.kind === 'mixup') return tf.add(tf.mul(x, mix.lambda), tf.mul(partner, 1 - mix.lambda)); // [B·V, H, W, C]
    const box = mix.box!;
    const inside = new Float32Array(h * w);
    for (let i = box.top; i < box.bottom; i++) inside.fill(1, i * w + box.left, i * w + box.right);
    const mask = tf.tensor4d(inside, [1, h, w, 1]); // [1, H, W, 1]: 1 in the box
    // mask·x_π + (1 − mask)·x: exactly x_π in the box and x outside (0/1 weights round nothing).
    return tf.add(tf.mul(partner, mask), tf.mul(x, tf.sub(1, mask))); // [B·V, H, W, C]
  });
}

/**
 * The soft targets [B·V, C] of a mixed batch as a flat array, row i·V + v holding
 * λ·s(y_i) + (1 − λ)·s(y_π(i)) with s(y) = (1 − ε)·onehot(y) + ε/C.
 */
export function mixedTargets(
  labels: Int32Array,
  views: number,
  classes: number,
  smoothing: number,
  mix: BatchMix,
): Float32Array {
  const out = new Float32Array(labels.length * views * classes);
  const { lambda } = mix;
  const s = (c: number, y: number) => (1 - smoothing) * (c === y ? 1 : 0) + smoothing / classes;
  for (let i = 0; i < labels.length; i++) {
    const own = labels[i]!;
    const other = labels[mix.permutation[i]!]!;
    for (let v = 0; v < views; v++) {
      const row = (i * views + v) * classes;
      for (let c = 0; c < classes; c++) out[row + c] = lambda * s(c, own) + (1 - lambda) * s(c, other);
    }
  }
  return out;
}

/** The label a mixed sample counts as for training accuracy: its own when λ ≥ ½, else its partner's [B]. */
export function dominantLabels(labels: Int32Array, mix: BatchMix): Int32Array {
  return mix.lambda >= 0.5 ? labels : Int32Array.from(mix.permutation, (j) => labels[j]!);
}

/**
 * log of a Gamma(shape, 1) draw (Marsaglia and Tsang 2000, "A simple method for generating gamma
 * variables"). Shapes below 1 use Gamma(k) = Gamma(k + 1)·U^(1/k); the log keeps small shapes
 * (α = 0.2: U^5) from underflowing to 0.
 */
export function logGamma(rng: Random, shape: number): number {
  if (shape < 1) return logGamma(rng, shape + 1) + Math.log(1 - rng.next()) / shape;
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = rng.normal();
    const t = 1 + c * z;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = 1 - rng.next(); // (0, 1]
    if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return Math.log(d * v);
  }
}

/** A Beta(a, b) draw, X / (X + Y) for X ~ Gamma(a), Y ~ Gamma(b), computed from the logs. */
export function sampleBeta(rng: Random, a: number, b: number): number {
  const x = logGamma(rng, a);
  const y = logGamma(rng, b);
  return 1 / (1 + Math.exp(y - x));
}
