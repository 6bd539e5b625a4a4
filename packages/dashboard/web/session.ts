/**
 * The DOM-free part of the /train page: data, model, augmentation and trainer built from the page's
 * settings with the `supcon` library, exactly as the page runs them. Node imports this same module
 * (the browser test does) to check that Node and the browser train identically.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Augmenter,
  type AugmentStep,
  type FeatureSet,
  knnScores,
  linearClassifier,
  type Method,
  mlpEncoder,
  type Network,
  projectionHead,
  resolveConfig,
  Trainer,
  type TrainSet,
  topKAccuracy,
} from 'supcon';

export interface Settings {
  dataset: string;
  images: number;
  holdout: number;
  batch: number;
  steps: number;
  method: Method;
  lr: number;
  backend: string;
}

export interface Data {
  name: string;
  classes: string[];
  train: TrainSet;
  test: TrainSet;
  mean: number[];
  std: number[];
}

export function slice(
  images: Uint8Array,
  labels: Int32Array,
  from: number,
  to: number,
  shape: [number, number, number],
): TrainSet {
  const size = shape[0] * shape[1] * shape[2];
  return {
    images: images.slice(from * size, to * size),
    labels: labels.slice(from, to),
    count: to - from,
    height: shape[0],
    width: shape[1],
    channels: shape[2],
  };
}

/** Ten classes of oriented gratings with noise: learnable, and available without any dataset. */
export function syntheticData(count: number, holdout: number): Data {
  const n = count + holdout;
  const [H, W] = [28, 28];
  const images = new Uint8Array(n * H * W);
  const labels = new Int32Array(n);
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    labels[i] = c;
    const angle = (c * Math.PI) / 10;
    const freq = 0.35 + 0.05 * (c % 3);
    const phase = rand() * 2 * Math.PI;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const v = Math.sin(freq * (x * Math.cos(angle) + y * Math.sin(angle)) + phase);
        images[i * H * W + y * W + x] = Math.max(0, Math.min(255, 128 + 40 * v + 200 * (rand() - 0.5)));
      }
  }
  const classes = Array.from({ length: 10 }, (_, c) => `${c * 18}°`);
  return {
    name: 'synthetic gratings',
    classes,
    train: slice(images, labels, 0, count, [H, W, 1]),
    test: slice(images, labels, count, n, [H, W, 1]),
    mean: [0.5],
    std: [0.3],
  };
}

export interface Session {
  trainer: Trainer;
  encoder: Network;
  /** Normalisation only: how held-out images are embedded. */
  evalViews: Augmenter;
}

/** mlpEncoder (256, 128) + projection head (or linear classifier for ce), the light augmentation, SGD. */
export function createSession(data: Data, s: Pick<Settings, 'method' | 'batch' | 'steps' | 'lr'>): Session {
  const { height, width, channels } = data.train;
  const shape = { height, width, channels };
  const normalize: AugmentStep = { op: 'normalize', mean: data.mean, std: data.std };
  // The 'light' recipe of `supcon train` (crop 0.6–1 + flip): suited to 28×28 images.
  const augmenter = new Augmenter(
    [
      { op: 'randomResizedCrop', size: [height, width], scale: [0.6, 1] },
      { op: 'horizontalFlip', p: 0.5 },
      normalize,
    ],
    shape,
  );
  const evalViews = new Augmenter([normalize], shape);
  const encoder = mlpEncoder({ inputDim: height * width * channels, hidden: [256, 128], seed: 0 });
  const classes = data.classes.length;
  const head =
    s.method === 'ce'
      ? linearClassifier({ inputDim: encoder.outputDim, classes })
      : projectionHead({ inputDim: encoder.outputDim, outputDim: 64 });
  const stepsPerEpoch = Math.ceil(data.train.count / s.batch);
  const config = resolveConfig({
    method: s.method,
    epochs: Math.max(1, Math.ceil(s.steps / stepsPerEpoch)),
    batchSize: s.batch,
    lr: s.lr,
    optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 },
  });
  const trainer = new Trainer({
    config,
    encoder,
    head,
    data: data.train,
    makeViews: (images, count, o) => augmenter.apply(images, count, o),
  });
  return { trainer, encoder, evalViews };
}

/** Encoder features of `set` (eval mode, normalised like training) as a FeatureSet. */
export function embed(encoder: Network, set: TrainSet, evalViews: Augmenter): FeatureSet {
  const pixels = evalViews.apply(set.images, set.count); // [N, 1, H, W, C] floats
  const features = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [set.count, set.height, set.width, set.channels]); // [N, H, W, C]
    return encoder.apply(x, false).dataSync() as Float32Array; // [N, F]
  });
  return { features, labels: set.labels, count: set.count, dim: encoder.outputDim };
}

/** Projection on the two leading principal components (power iteration with deflation). */
export function pca2(f: FeatureSet): Float32Array {
  const { count: n, dim: d } = f;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += f.features[i * d + j]! / n;
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < d; j++) norm += f.features[i * d + j]! ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let j = 0; j < d; j++) x[i * d + j] = f.features[i * d + j]! / norm - mean[j]! / norm;
  }
  const out = new Float32Array(2 * n);
  const components: Float64Array[] = [];
  for (let c = 0; c < 2; c++) {
    let v: Float64Array = new Float64Array(d).map((_, j) => Math.sin(j + 1 + c));
    for (let it = 0; it < 40; it++) {
      const xv = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xv[i]! += x[i * d + j]! * v[j]!;
      const next = new Float64Array(d);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) next[j]! += x[i * d + j]! * xv[i]!;
      for (const u of components) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += next[j]! * u[j]!;
        for (let j = 0; j < d; j++) next[j]! -= dot * u[j]!;
      }
      const norm = Math.sqrt(next.reduce((a, b) => a + b * b, 0)) || 1;
      v = next.map((e) => e / norm);
    }
    components.push(v);
    for (let i = 0; i < n; i++) {
      let p = 0;
      for (let j = 0; j < d; j++) p += x[i * d + j]! * v[j]!;
      out[2 * i + c] = p;
    }
  }
  return out;
}

export function knnAccuracy(encoder: Network, data: Data, evalViews: Augmenter): number {
  const bank = embed(encoder, data.train, evalViews);
  const query = embed(encoder, data.test, evalViews);
  const classes = data.classes.length;
  return topKAccuracy(knnScores(bank, query.features, { classes, k: 20 }), query.labels, classes, 1);
}
