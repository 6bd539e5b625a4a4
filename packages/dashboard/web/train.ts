/**
 * Training in the browser tab with the same model code as Node: `supcon`'s `mlpEncoder`,
 * `projectionHead`, `Augmenter` and `Trainer` (SupCon, SimCLR or cross-entropy), on the WebGL backend
 * when the browser has it, else cpu. Data: the first N training images of a dataset the server has
 * on disk (`/api/datasets/NAME/train.bin`), or synthetic gratings when it has none. Shows the loss per
 * step, a 2-D PCA projection of held-out embeddings coloured by class, and kNN top-1 of the held-out
 * images before and after training.
 *
 * URL parameters (all optional): dataset, images, holdout, batch, steps, method, lr, backend
 * (auto|webgl|cpu), auto=1 (start at once), report=1 (POST the results to /api/client-report).
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
import { linePlot, scatter } from './plot.js';

interface Settings {
  dataset: string;
  images: number;
  holdout: number;
  batch: number;
  steps: number;
  method: Method;
  lr: number;
  backend: string;
}

interface Data {
  name: string;
  classes: string[];
  train: TrainSet;
  test: TrainSet;
  mean: number[];
  std: number[];
}

const params = new URLSearchParams(location.search);
const settings: Settings = {
  dataset: params.get('dataset') ?? 'fashion-mnist',
  images: Number(params.get('images') ?? 2048),
  holdout: Number(params.get('holdout') ?? 500),
  batch: Number(params.get('batch') ?? 128),
  steps: Number(params.get('steps') ?? 60),
  method: (params.get('method') ?? 'supcon') as Method,
  lr: Number(params.get('lr') ?? 0.05),
  backend: params.get('backend') ?? 'auto',
};

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function slice(
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
function syntheticData(count: number, holdout: number): Data {
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

async function loadData(s: Settings): Promise<Data> {
  if (s.dataset === 'synthetic') return syntheticData(s.images, s.holdout);
  const metaResponse = await fetch(`/api/datasets/${encodeURIComponent(s.dataset)}`);
  if (!metaResponse.ok) {
    const why = ((await metaResponse.json()) as { error?: string }).error ?? metaResponse.statusText;
    log(`Dataset ${s.dataset} is not available on the server (${why}); using synthetic data.`);
    return syntheticData(s.images, s.holdout);
  }
  const meta = (await metaResponse.json()) as {
    classes: string[];
    height: number;
    width: number;
    channels: number;
    mean: number[];
    std: number[];
  };
  const n = s.images + s.holdout;
  const r = await fetch(`/api/datasets/${encodeURIComponent(s.dataset)}/train.bin?count=${n}`);
  if (!r.ok)
    throw new Error(
      `Could not load ${n} images of ${s.dataset}: ${((await r.json()) as { error?: string }).error}`,
    );
  const bytes = new Uint8Array(await r.arrayBuffer());
  const shape: [number, number, number] = [meta.height, meta.width, meta.channels];
  const size = shape[0] * shape[1] * shape[2];
  const images = bytes.subarray(0, n * size);
  const labels = Int32Array.from(bytes.subarray(n * size, n * size + n));
  return {
    name: s.dataset,
    classes: meta.classes,
    train: slice(images, labels, 0, s.images, shape),
    test: slice(images, labels, s.images, n, shape),
    mean: meta.mean,
    std: meta.std,
  };
}

async function pickBackend(wanted: string): Promise<string> {
  const order = wanted === 'auto' ? ['webgl', 'cpu'] : [wanted];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      // try the next one
    }
  }
  throw new Error(`No usable TensorFlow.js backend among ${order.join(', ')}.`);
}

/** Encoder features of `set` (eval mode, normalised like training) as a FeatureSet. */
function embed(encoder: Network, set: TrainSet, evalViews: Augmenter): FeatureSet {
  const pixels = evalViews.apply(set.images, set.count); // [N, 1, H, W, C] floats
  const features = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [set.count, set.height, set.width, set.channels]); // [N, H, W, C]
    return encoder.apply(x, false).dataSync() as Float32Array; // [N, F]
  });
  return { features, labels: set.labels, count: set.count, dim: encoder.outputDim };
}

/** Projection on the two leading principal components (power iteration with deflation). */
function pca2(f: FeatureSet): Float32Array {
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

function knnAccuracy(encoder: Network, data: Data, evalViews: Augmenter): number {
  const bank = embed(encoder, data.train, evalViews);
  const query = embed(encoder, data.test, evalViews);
  const classes = data.classes.length;
  return topKAccuracy(knnScores(bank, query.features, { classes, k: 20 }), query.labels, classes, 1);
}

const ui = {
  status: h('p', { id: 'status' }, 'Idle.'),
  log: h('pre', { id: 'log', class: 'muted' }),
  loss: h('div', { id: 'loss-plot' }),
  canvas: h('canvas', { id: 'embedding', width: '480', height: '360' }),
  result: h('p', { id: 'result' }),
  start: h('button', { id: 'start' }, 'Train'),
};

function log(line: string): void {
  ui.log.textContent += `${line}\n`;
}

const nextFrame = () => new Promise<void>((r) => setTimeout(r, 0));

async function train(s: Settings): Promise<Record<string, unknown>> {
  ui.start.setAttribute('disabled', '');
  const backend = await pickBackend(s.backend);
  ui.status.textContent = `Backend ${backend}; loading data…`;
  const data = await loadData(s);
  const { height, width, channels } = data.train;
  log(
    `Backend ${backend}; ${data.name}: ${data.train.count} training and ${data.test.count} held-out images ${height}×${width}×${channels}.`,
  );
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
  const draw = () =>
    scatter(ui.canvas, pca2(embed(encoder, data.test, evalViews)), data.test.labels, data.classes);
  const knnBefore = knnAccuracy(encoder, data, evalViews);
  log(`kNN top-1 (k=20) of the held-out images before training: ${(100 * knnBefore).toFixed(1)} %`);
  draw();
  const losses: number[] = [];
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < s.steps; i++) {
    const r = trainer.step();
    losses.push(r.loss);
    times.push(r.seconds);
    // Under a headless browser's virtual time the clock stands still: no speed to show then.
    const speed =
      r.seconds > 0
        ? `${(1 / r.seconds).toFixed(2)} steps/s (${Math.round(r.imagesPerSecond)} images/s)`
        : 'speed n/a';
    ui.status.textContent = `Backend ${backend}: step ${i + 1}/${s.steps}, loss ${r.loss.toFixed(4)}, ${speed}, lr ${r.lr.toFixed(4)}`;
    ui.loss.replaceChildren(
      linePlot([{ name: `${s.method} loss`, points: losses.map((l, k) => [k + 1, l]), color: '#d62728' }], {
        title: `${s.method} loss per step (${backend})`,
        xLabel: 'step',
        yLabel: 'loss',
      }),
    );
    if ((i + 1) % 20 === 0) draw();
    await nextFrame();
  }
  const seconds = (performance.now() - started) / 1000;
  draw();
  const knnAfter = knnAccuracy(encoder, data, evalViews);
  log(`kNN top-1 (k=20) of the held-out images after ${s.steps} steps: ${(100 * knnAfter).toFixed(1)} %`);
  // Steady-state speed: the median step after the first five (shader compilation, warm-up).
  const steady = times.slice(5).sort((a, b) => a - b);
  const median = steady[Math.floor(steady.length / 2)] ?? times[0] ?? Number.NaN;
  const head5 = losses.slice(0, 5).reduce((a, b) => a + b, 0) / Math.min(5, losses.length);
  const tail5 = losses.slice(-5).reduce((a, b) => a + b, 0) / Math.min(5, losses.length);
  const result = {
    backend,
    dataset: data.name,
    method: s.method,
    steps: s.steps,
    batchSize: s.batch,
    trainImages: data.train.count,
    losses,
    firstLoss: head5,
    lastLoss: tail5,
    knnBefore,
    knnAfter,
    seconds,
    medianStepSeconds: median,
    stepsPerSecond: 1 / median,
    tensors: tf.memory().numTensors,
    userAgent: navigator.userAgent,
  };
  const rate = median > 0 ? `median ${(1 / median).toFixed(2)} steps/s` : 'no clock: virtual time';
  ui.result.textContent = `Done: ${s.steps} steps in ${seconds.toFixed(1)} s on ${backend} (${rate}); mean loss of the first 5 steps ${head5.toFixed(4)} → last 5 ${tail5.toFixed(4)}; held-out kNN top-1 ${(100 * knnBefore).toFixed(1)} % → ${(100 * knnAfter).toFixed(1)} %.`;
  ui.result.dataset['done'] = 'true';
  ui.start.removeAttribute('disabled');
  return result;
}

function controls(): HTMLElement {
  const field = (name: keyof Settings, values?: string[]) => {
    const input = values
      ? h(
          'select',
          { name },
          ...values.map((v) =>
            h('option', { value: v, ...(v === String(settings[name]) ? { selected: '' } : {}) }, v),
          ),
        )
      : h('input', { name, value: String(settings[name]), size: '6' });
    input.addEventListener('change', () => {
      const v = (input as HTMLInputElement).value;
      (settings as unknown as Record<string, string | number>)[name] =
        typeof settings[name] === 'number' ? Number(v) : v;
    });
    return h('label', {}, `${name} `, input);
  };
  return h(
    'div',
    {},
    field('dataset', ['fashion-mnist', 'mnist', 'cifar10', 'synthetic']),
    field('method', ['supcon', 'simclr', 'ce']),
    field('backend', ['auto', 'webgl', 'cpu']),
    field('images'),
    field('batch'),
    field('steps'),
    field('lr'),
    ui.start,
  );
}

async function run(): Promise<void> {
  try {
    const result = await train({ ...settings });
    if (params.get('report') === '1')
      await fetch('/api/client-report', {
        method: 'POST',
        body: JSON.stringify({ page: 'train', ...result }),
      });
  } catch (error) {
    const message = (error as Error).message;
    ui.status.textContent = `Error: ${message}`;
    ui.start.removeAttribute('disabled');
    if (params.get('report') === '1')
      await fetch('/api/client-report', {
        method: 'POST',
        body: JSON.stringify({ page: 'train', error: message }),
      });
  }
}

const app = document.getElementById('app')!;
app.replaceChildren(
  h(
    'section',
    { class: 'wide' },
    h('h2', {}, 'Train a small SupCon encoder in this tab'),
    h(
      'p',
      { class: 'muted' },
      'The same code as `supcon train` in Node: mlpEncoder (256, 128) + projection head, two augmented views (crop + flip), the SupCon loss, SGD with momentum, on TensorFlow.js in your browser.',
    ),
    controls(),
    ui.status,
    ui.result,
  ),
  h('section', {}, h('h2', {}, 'Loss'), ui.loss),
  h('section', {}, h('h2', {}, 'Held-out embeddings (PCA to 2-D, coloured by class)'), ui.canvas),
  h('section', { class: 'wide' }, h('h2', {}, 'Log'), ui.log),
);
ui.start.addEventListener('click', () => void run());
if (params.get('auto') === '1') void run();
