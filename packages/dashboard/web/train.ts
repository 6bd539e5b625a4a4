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
import type { Method } from 'supcon';
import type { DatasetMeta } from './api.js';
import { pickBackend } from './backend.js';
import { h } from './dom.js';
import { linePlot, scatter } from './plot.js';
import {
  createSession,
  type Data,
  embed,
  knnAccuracy,
  pca2,
  type Settings,
  slice,
  syntheticData,
} from './session.js';

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

async function loadData(s: Settings): Promise<Data> {
  if (s.dataset === 'synthetic') return syntheticData(s.images, s.holdout);
  const metaResponse = await fetch(`/api/datasets/${encodeURIComponent(s.dataset)}`);
  if (!metaResponse.ok) {
    const why = ((await metaResponse.json()) as { error?: string }).error ?? metaResponse.statusText;
    log(`Dataset ${s.dataset} is not available on the server (${why}); using synthetic data.`);
    return syntheticData(s.images, s.holdout);
  }
  const meta = (await metaResponse.json()) as DatasetMeta;
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
  const { trainer, encoder, evalViews } = createSession(data, s);
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
