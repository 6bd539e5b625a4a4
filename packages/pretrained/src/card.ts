/**
 * A pretrained encoder's model card: what it is, how it was made (the exact command), and what it
 * scored, as `models/NAME/card.json`. The loader checks the fields it relies on and nothing else, so
 * a card can grow fields without breaking older readers.
 */
import { check } from 'supcon';

export const CARD_FORMAT = 'supcon-model-card';
export const CARD_VERSION = 1;

/** Accuracies on one split, as fractions in [0, 1]. */
export interface SplitScores {
  validation?: number;
  test: number;
}

/** The fixed subset the package's own check recomputes (`checkPretrained` in @supcon/node). */
export interface CardCheck {
  /** The first `gallery` training images are the kNN gallery, the first `queries` test images the queries. */
  gallery: number;
  queries: number;
  /** Neighbours, cosine similarity, the same vote as the run's kNN (weights exp(s / τ)). */
  k: number;
  temperature: number;
  /** kNN top-1 on that subset when the card was written. */
  knnTop1: number;
  /** Encoder features of the first test images, for an exact regression check of the weights. */
  features: { count: number; values: number[] };
}

export interface ModelCard {
  format: typeof CARD_FORMAT;
  version: typeof CARD_VERSION;
  name: string;
  description: string;
  /** 'supcon', 'simclr' or 'ce': the loss the encoder was trained with. */
  method: string;
  /** The run's model spec, `{ encoder, head }` (the supcon package's models/spec.ts). */
  model: { encoder: Record<string, unknown>; head: Record<string, unknown> };
  dataset: string;
  classes: string[];
  /** One image, [height, width, channels] (the model takes a batch [B, H, W, C]). */
  inputShape: [number, number, number];
  /** Model input = (pixel × scale − mean[c]) / std[c], per channel c (scale 1/255 for 8-bit images). */
  preprocessing: { scale: number; mean: number[]; std: number[] };
  /** Size of a feature vector. */
  outputDim: number;
  /** Trainable parameters (BatchNorm running statistics not counted). */
  parameters: number;
  /** Bytes of weights.bin. */
  bytes: number;
  /** Storage precision of the weights; `trainedPrecision` is what the steps ran in. */
  precision: 'fp32';
  trainedPrecision: string;
  epochs: number;
  seed: number;
  /** The command that trains this encoder again from scratch. */
  command: string;
  /** When the run was trained (ISO date), on which CPU, in how many seconds. */
  date: string;
  cpu: string;
  trainSeconds: number;
  /** Linear probe on the frozen features (the paper's protocol), and the run's kNN. */
  linearProbe: SplitScores;
  knn: SplitScores;
  /** Retrieval metrics on test queries against the training gallery, when measured. */
  retrieval?: Record<string, number>;
  check: CardCheck;
}

/** The card in `json`, checked for the fields a loader needs; `source` names it in errors. */
export function parseCard(json: unknown, source: string): ModelCard {
  const card = json as Partial<ModelCard> | null;
  check(
    typeof card === 'object' && card !== null && card.format === CARD_FORMAT,
    source,
    `a model card (format "${CARD_FORMAT}")`,
    card === null || typeof card !== 'object' ? card : card.format,
  );
  check(card.version === CARD_VERSION, source, `card version ${CARD_VERSION}`, card.version);
  const shape = card.inputShape;
  check(
    Array.isArray(shape) && shape.length === 3 && shape.every((n) => Number.isInteger(n) && n > 0),
    `${source} inputShape`,
    '[height, width, channels] of positive integers',
    shape,
  );
  const p = card.preprocessing;
  check(
    p !== undefined &&
      p.scale > 0 &&
      Array.isArray(p.mean) &&
      Array.isArray(p.std) &&
      p.mean.length === shape[2] &&
      p.std.length === shape[2] &&
      p.std.every((s) => s > 0),
    `${source} preprocessing`,
    `{ scale > 0, mean and std with one value per channel (${shape[2]}), std > 0 }`,
    p,
  );
  check(
    Number.isInteger(card.outputDim) && (card.outputDim ?? 0) > 0,
    `${source} outputDim`,
    'a positive integer',
    card.outputDim,
  );
  check(typeof card.name === 'string' && card.name !== '', `${source} name`, 'a non-empty string', card.name);
  return card as ModelCard;
}
