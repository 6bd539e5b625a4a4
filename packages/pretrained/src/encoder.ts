/**
 * A loaded pretrained encoder: its card, the TensorFlow.js layers model, and `embed`, which applies
 * the card's preprocessing so callers pass raw pixels. Isomorphic: the Node and browser entry points
 * differ only in how they read the files (`read`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { check, EXIT_USAGE, layersModelFromFiles, UserError } from 'supcon';
import { type ModelCard, parseCard } from './card.js';

/** Reads one file of the models folder, e.g. `index.json` or `NAME/model.json`. */
export type ReadFile = (path: string) => Promise<Uint8Array>;

/** `models/index.json`: the names of the shipped models, in the order `list` shows them. */
export interface ModelIndex {
  models: string[];
}

/** A name that is not one of the shipped models (exit code 2 from the CLI). */
export class UnknownPretrainedError extends UserError {}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

export async function readIndex(read: ReadFile): Promise<ModelIndex> {
  let bytes: Uint8Array;
  try {
    bytes = await read('index.json');
  } catch (error) {
    throw new UserError(
      `Could not read the models folder's index.json (${(error as Error).message}): is it a models folder?`,
    );
  }
  const index = JSON.parse(text(bytes)) as Partial<ModelIndex>;
  check(
    Array.isArray(index.models) && index.models.every((n) => typeof n === 'string' && NAME.test(n)),
    'models/index.json',
    '{ "models": [names] }',
    index,
  );
  return { models: index.models };
}

/** Refuses a name that is not in the index, naming the ones that are. */
export async function checkName(name: string, read: ReadFile): Promise<void> {
  const { models } = await readIndex(read);
  if (!models.includes(name))
    throw new UnknownPretrainedError(
      `Unknown pretrained model \`${name}\`. Expected one of: ${models.join(', ') || '(none shipped)'}.`,
      EXIT_USAGE,
    );
}

export async function readCard(name: string, read: ReadFile): Promise<ModelCard> {
  await checkName(name, read);
  return parseCard(JSON.parse(text(await read(`${name}/card.json`))), `${name}/card.json`);
}

/** Options of `PretrainedEncoder.embed`. */
export interface PretrainedEmbedOptions {
  /** Images per model pass, default 256. */
  batchSize?: number;
  /** Called before each batch with the images done so far, and once at the end with `done = count`. */
  onProgress?: (done: number, count: number) => void;
}

export class PretrainedEncoder {
  constructor(
    readonly card: ModelCard,
    readonly model: LayersModel,
  ) {}

  /**
   * Features [count, outputDim] of `count` images given as raw pixels, NHWC, in the card's value
   * range (0–255 for the shipped Fashion-MNIST models), `count × height × width × channels` values.
   * Batched by `batchSize` (default 256) so a large set does not build one huge tensor;
   * `onProgress(done, count)` is called before each batch and once at the end with `done = count`.
   *
   * @example
   *   const features = encoder.embed(pixels, 1000, { onProgress: (done, total) => log(done, total) });
   */
  embed(pixels: ArrayLike<number>, count: number, options: PretrainedEmbedOptions = {}): Float32Array {
    const { batchSize = 256, onProgress } = options;
    const [h, w, c] = this.card.inputShape;
    const size = h * w * c;
    check(Number.isInteger(count) && count >= 0, 'count', 'a non-negative integer', count);
    check(Number.isInteger(batchSize) && batchSize >= 1, 'batchSize', 'a positive integer', batchSize);
    check(
      pixels.length === count * size,
      'pixels',
      `${count} images × ${h}×${w}×${c} = ${count * size} values`,
      `${pixels.length} values`,
    );
    const { scale, mean, std } = this.card.preprocessing;
    const dim = this.card.outputDim;
    const out = new Float32Array(count * dim);
    const input = new Float32Array(Math.min(count, batchSize) * size);
    for (let start = 0; start < count; start += batchSize) {
      onProgress?.(start, count);
      const n = Math.min(batchSize, count - start);
      for (let i = 0; i < n * size; i++) {
        const ch = i % c;
        input[i] = ((pixels[start * size + i] as number) * scale - mean[ch]!) / std[ch]!;
      }
      const features = tf.tidy(() => {
        const x = tf.tensor4d(input.subarray(0, n * size), [n, h, w, c]); // [n, H, W, C]
        return this.model.predict(x) as tf.Tensor2D; // [n, outputDim]
      });
      out.set(features.dataSync(), start * dim);
      features.dispose();
    }
    onProgress?.(count, count);
    return out;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Loads model `name` through `read`: the card, then the layers model it describes. */
export async function loadWith(name: string, read: ReadFile): Promise<PretrainedEncoder> {
  const card = await readCard(name, read);
  const modelJson = JSON.parse(text(await read(`${name}/model.json`))) as Record<string, unknown>;
  const manifest = (modelJson['weightsManifest'] ?? []) as { paths: string[] }[];
  const parts = await Promise.all(manifest.flatMap((g) => g.paths.map((p) => read(`${name}/${p}`))));
  const weights = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    weights.set(p, offset);
    offset += p.byteLength;
  }
  const model = await layersModelFromFiles(modelJson, weights);
  const shape = model.outputs[0]?.shape;
  check(
    shape?.[1] === card.outputDim,
    `${name}/model.json`,
    `a model with ${card.outputDim} outputs, as its card says`,
    shape,
  );
  return new PretrainedEncoder(card, model);
}
