/**
 * Image search in the browser tab: a pretrained encoder of `@supcon/pretrained` (fetched from the
 * server's `/models/`), the first N test images of its dataset as the gallery (embedded once, in the
 * tab), and a query image dropped or picked by the person, or a gallery image clicked: decoded with a
 * canvas, centre-cropped to a square, resized to the encoder's input, made grey, embedded, and
 * compared by cosine similarity with every gallery image (exact search). Nothing leaves the tab.
 *
 * URL parameters (all optional): model (default the first in models/index.json), count (gallery
 * size, default 2000), backend (auto|webgl|cpu), k (default 10), report=1 (POST the results to
 * /api/client-report), test=1 (after embedding: query gallery image 0 by clicking it, then the same
 * image as a file, enlarged and letterboxed, through the drop path).
 */
import { loadPretrained, type PretrainedEncoder } from '@supcon/pretrained/browser';
import * as tf from '@tensorflow/tfjs-core';
import { pickBackend } from './backend.js';
import { h } from './dom.js';
import { borderMean, centreSquare, type Neighbour, normalizeRows, toGrey, topK } from './neighbours.js';

const params = new URLSearchParams(location.search);
const settings = {
  model: params.get('model') ?? '',
  count: Number(params.get('count') ?? 2000),
  backend: params.get('backend') ?? 'auto',
  k: Number(params.get('k') ?? 10),
};
const modelsUrl = new URL('/models/', location.href);

interface Gallery {
  encoder: PretrainedEncoder;
  /** [count, H·W·C] raw pixels, NHWC. */
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
  /** [count, outputDim], unit rows. */
  features: Float32Array;
  /** Wall time of embedding the gallery. */
  seconds: number;
}

const ui = {
  status: h('p', { id: 'status' }, 'Loading…'),
  progress: h('progress', { id: 'progress', max: '1', value: '0' }),
  drop: h('div', { id: 'drop' }, 'Drop an image here, or '),
  file: h('input', { id: 'file', type: 'file', accept: 'image/*' }),
  query: h('div', { id: 'query' }),
  results: h('div', { id: 'results', class: 'results' }),
  gallery: h('div', { id: 'gallery', class: 'gallery' }),
};
ui.drop.append(ui.file);

const nextFrame = () => new Promise<void>((r) => setTimeout(r, 0));

/** A canvas showing one grey image of `size`×`size` (drawn at 2× by the page's CSS). */
function thumbnail(grey: Uint8Array, size: number, attrs: Record<string, string> = {}): HTMLCanvasElement {
  const c = h('canvas', { width: String(size), height: String(size), ...attrs });
  const image = new ImageData(size, size);
  for (let i = 0; i < grey.length; i++) {
    image.data.set([grey[i]!, grey[i]!, grey[i]!, 255], 4 * i);
  }
  c.getContext('2d')!.putImageData(image, 0, 0);
  return c;
}

async function loadGallery(): Promise<Gallery> {
  const backend = await pickBackend(settings.backend);
  let name = settings.model;
  if (name === '') {
    const index = (await (await fetch(new URL('index.json', modelsUrl))).json()) as { models: string[] };
    name = index.models[0] ?? '';
    if (name === '') throw new Error('The server ships no pretrained models (models/index.json is empty).');
  }
  ui.status.textContent = `Backend ${backend}; loading the encoder ${name}…`;
  const encoder = await loadPretrained(name, { baseUrl: modelsUrl });
  const [height, width, channels] = encoder.card.inputShape;
  if (height !== width || channels !== 1)
    throw new Error(`This page takes square grey encoders; ${name} takes ${height}×${width}×${channels}.`);
  const dataset = encoder.card.dataset;
  const r = await fetch(`/api/datasets/${encodeURIComponent(dataset)}/test.bin?count=${settings.count}`);
  if (!r.ok)
    throw new Error(
      `Could not load ${settings.count} test images of ${dataset}: ${((await r.json()) as { error?: string }).error}`,
    );
  const bytes = new Uint8Array(await r.arrayBuffer());
  const count = settings.count;
  const size = height * width * channels;
  const pixels = bytes.subarray(0, count * size);
  const labels = bytes.subarray(count * size, count * size + count);
  const dim = encoder.card.outputDim;
  const features = new Float32Array(count * dim);
  const started = performance.now();
  // In chunks, yielding between them, so the progress bar moves and the tab stays responsive.
  const chunk = 100;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    features.set(encoder.embed(pixels.subarray(start * size, (start + n) * size), n), start * dim);
    ui.progress.value = (start + n) / count;
    ui.status.textContent = `Backend ${backend}; ${name}: embedding the gallery, ${start + n}/${count} test images of ${dataset}…`;
    await nextFrame();
  }
  normalizeRows(features, dim);
  const seconds = (performance.now() - started) / 1000;
  // Under a headless browser's virtual time the clock stands still: no time to show then.
  const took = seconds > 0 ? ` in ${seconds.toFixed(1)} s` : '';
  ui.status.textContent = `Backend ${backend}; ${name} (${encoder.card.method}, ${dim}-d): ${count} test images of ${dataset} embedded${took}. Drop an image or click one below.`;
  ui.status.dataset['ready'] = 'true';
  return { encoder, pixels, labels, count, features, seconds };
}

/** Nearest gallery images of `grey` (one image of the encoder's input size), drawn and returned. */
function search(g: Gallery, grey: Uint8Array, what: string): Neighbour[] {
  const size = g.encoder.card.inputShape[0];
  const query = normalizeRows(g.encoder.embed(grey, 1), g.encoder.card.outputDim);
  const hits = topK(g.features, query, settings.k);
  const classes = g.encoder.card.classes;
  ui.query.replaceChildren(h('p', {}, `Query: ${what}`), thumbnail(grey, size, { 'data-query': 'true' }));
  ui.results.replaceChildren(
    ...hits.map((hit, rank) => {
      const label = g.labels[hit.index]!;
      const name = classes[label] ?? `class ${label}`;
      return h(
        'figure',
        {
          'data-rank': String(rank),
          'data-index': String(hit.index),
          'data-label': String(label),
          'data-score': hit.score.toFixed(4),
        },
        thumbnail(g.pixels.subarray(hit.index * size * size, (hit.index + 1) * size * size), size),
        h('figcaption', {}, `${name} ${hit.score.toFixed(3)}`),
      );
    }),
  );
  ui.results.dataset['query'] = what;
  return hits;
}

/**
 * A picked image as the encoder's input: the centred square, resized with the canvas's smoothing,
 * grey; inverted when its border is light (Fashion-MNIST shows light objects on black).
 */
async function fromFile(file: Blob, size: number): Promise<{ grey: Uint8Array; inverted: boolean }> {
  const bitmap = await createImageBitmap(file);
  const [sx, sy, side] = centreSquare(bitmap.width, bitmap.height);
  const canvas = h('canvas', { width: String(size), height: String(size) });
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, sx, sy, side, side, 0, 0, size, size);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const grey = toGrey(rgba);
  const inverted = borderMean(grey, size) > 127;
  return { grey: inverted ? toGrey(rgba, true) : grey, inverted };
}

async function searchFile(g: Gallery, file: Blob, name: string): Promise<Neighbour[]> {
  const { grey, inverted } = await fromFile(file, g.encoder.card.inputShape[0]);
  return search(g, grey, `${name}${inverted ? ' (inverted: light background)' : ''}`);
}

function showGallery(g: Gallery, onPick: (index: number) => void): void {
  const size = g.encoder.card.inputShape[0];
  // Thumbnails of the first images only: enough to click a query, without thousands of canvases.
  const shown = Math.min(g.count, 200);
  ui.gallery.replaceChildren(
    h(
      'p',
      { class: 'muted' },
      `The first ${shown} of the ${g.count} gallery images; click one to search with it.`,
    ),
    ...Array.from({ length: shown }, (_, i) => {
      const c = thumbnail(g.pixels.subarray(i * size * size, (i + 1) * size * size), size, {
        'data-gallery': String(i),
        title: `test image ${i}: ${g.encoder.card.classes[g.labels[i]!] ?? g.labels[i]}`,
      });
      c.addEventListener('click', () => onPick(i));
      return c;
    }),
  );
}

/** The gallery image `index` as a PNG, enlarged 4× and letterboxed in black, as a person might drop. */
async function testFile(g: Gallery, index: number): Promise<Blob> {
  const size = g.encoder.card.inputShape[0];
  const small = thumbnail(g.pixels.subarray(index * size * size, (index + 1) * size * size), size);
  const big = h('canvas', { width: String(4 * size), height: String(5 * size) });
  const ctx = big.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, big.width, big.height);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, size / 2, 4 * size, 4 * size);
  return new Promise((resolve, reject) =>
    big.toBlob((b) => (b ? resolve(b) : reject(new Error('toBlob gave nothing'))), 'image/png'),
  );
}

async function report(body: Record<string, unknown>): Promise<void> {
  if (params.get('report') === '1')
    await fetch('/api/client-report', { method: 'POST', body: JSON.stringify({ page: 'search', ...body }) });
}

async function main(): Promise<void> {
  const g = await loadGallery();
  const picked: Neighbour[][] = [];
  let notifyPick = () => {};
  showGallery(g, (i) => {
    picked.push(
      search(
        g,
        g.pixels.subarray((i * g.pixels.length) / g.count, ((i + 1) * g.pixels.length) / g.count),
        `test image ${i}`,
      ),
    );
    notifyPick();
  });
  const onFile = (file: File | undefined) => {
    if (file) searchFile(g, file, file.name).catch((e: unknown) => fail(e));
  };
  ui.file.addEventListener('change', () => onFile(ui.file.files?.[0]));
  ui.drop.addEventListener('dragover', (e) => e.preventDefault());
  ui.drop.addEventListener('drop', (e) => {
    e.preventDefault();
    onFile(e.dataTransfer?.files[0]);
  });
  if (params.get('test') !== '1') return;
  // The self-test the browser test drives: a click on gallery image 0, then image 0 as a file.
  const clicked = new Promise<void>((r) => {
    notifyPick = r;
  });
  (ui.gallery.querySelector('[data-gallery="0"]') as HTMLElement).click();
  await clicked;
  const captions = () => [...ui.results.querySelectorAll('figcaption')].map((c) => c.textContent ?? '');
  const click = { hits: picked[0], captions: captions() };
  const fromFileHits = await searchFile(g, await testFile(g, 0), 'test-0.png');
  await report({
    backend: tf.getBackend(),
    model: g.encoder.card.name,
    count: g.count,
    embedSeconds: g.seconds,
    labels: Array.from(g.labels.subarray(0, settings.k)),
    click,
    file: { hits: fromFileHits, captions: captions() },
    tensors: tf.memory().numTensors,
  });
}

function fail(error: unknown): void {
  const message = (error as Error).message;
  ui.status.textContent = `Error: ${message}`;
  ui.status.id = 'error';
  void report({ error: message });
}

document
  .getElementById('app')!
  .replaceChildren(
    h(
      'section',
      { class: 'wide' },
      h('h2', {}, 'Nearest test images of an image, computed in this tab'),
      h(
        'p',
        { class: 'muted' },
        'A pretrained SupCon encoder (@supcon/pretrained) runs on TensorFlow.js in your browser: the gallery of test images is embedded once, then a query is centre-cropped, resized to the encoder input, made grey, embedded, and ranked by cosine similarity. No image leaves the tab.',
      ),
      ui.status,
      ui.progress,
      ui.drop,
    ),
    h('section', { class: 'wide' }, h('h2', {}, 'Query and nearest neighbours'), ui.query, ui.results),
    h('section', { class: 'wide' }, h('h2', {}, 'Gallery'), ui.gallery),
  );
main().catch(fail);
