/**
 * A ViT export in a real browser: two tiny ViTs (class-token pool, exact GELU, with the projection
 * head; mean pool, tanh GELU, encoder only) are exported with `exportLayersModel`, served by a local
 * HTTP server, and loaded in headless Chromium by a page bundled (esbuild) from stock
 * `@tensorflow/tfjs` plus `import 'supcon'`, which registers the ViT's custom layers. The page
 * predicts a fixed input and POSTs the numbers back; they must equal Node's within 1e-4 of the
 * largest output. First the same page without `supcon` (the stock `tf.min.js` script only) must fail
 * to load the model, naming the unregistered layer, so the test fails if registration is dropped.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildEncoder, buildHead, exportLayersModel, loadExportedModel, presetSpec } from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import type { VitSize } from 'supcon';
import { browse, kill, skip } from './chromium.js';

const SHAPE = [8, 8, 1] as const;
const BATCH = 3;
const TOLERANCE = 1e-4; // of the largest |output|: float32 in both, same ops, different summation order
const MODELS: Record<'a' | 'b', { size: VitSize; withHead: boolean }> = {
  a: {
    size: { patch: 4, dim: 16, depth: 2, heads: 2, mlpRatio: 2, pool: 'cls', gelu: 'none' },
    withHead: true,
  },
  b: {
    size: { patch: 4, dim: 12, depth: 1, heads: 3, mlpRatio: 2, pool: 'mean', gelu: 'tanh' },
    withHead: false,
  },
};

/** The same input on both sides: exact in float32, no Math.random, no transcendental functions. */
const INPUT_JS = '(i) => ((i * 7919) % 1000) / 500 - 1';
const input = (i: number) => ((i * 7919) % 1000) / 500 - 1;
const SIZE = BATCH * SHAPE[0] * SHAPE[1] * SHAPE[2];

/** The page's module: stock TensorFlow.js, then `supcon` for its registered layers. */
const SCRIPT = `import * as tf from '@tensorflow/tfjs';
import 'supcon';
const report = (body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });
(async () => {
  try {
    await tf.setBackend('cpu');
    const f = ${INPUT_JS};
    const x = tf.tensor4d(Float32Array.from({ length: ${SIZE} }, (_, i) => f(i)), [${BATCH}, ${SHAPE.join(', ')}]);
    const out = {};
    for (const name of ['a', 'b']) {
      const model = await tf.loadLayersModel('/' + name + '/model.json');
      const y = model.predict(x);
      out[name] = { shape: y.shape, values: Array.from(await y.data()), output: model.getUserDefinedMetadata().supcon.output };
    }
    await report({ page: 'supcon', ...out });
  } catch (error) {
    await report({ page: 'supcon', error: String((error && error.stack) || error) });
  }
})();
`;

/** Stock `tf.min.js` only: loading must fail on the first custom layer; then on to the bundled page. */
const STOCK_PAGE = `<!doctype html><html><head><script src="/tf.min.js"></script></head><body><script>
(async () => {
  let body;
  try {
    await tf.loadLayersModel('/a/model.json');
    body = { page: 'stock', loaded: true };
  } catch (error) {
    body = { page: 'stock', error: String(error && error.message || error) };
  }
  await fetch('/result', { method: 'POST', body: JSON.stringify(body) });
  location.href = '/supcon.html';
})();
</script></body></html>`;
const SUPCON_PAGE = `<!doctype html><html><head><script type="module" src="/page.js"></script></head><body></body></html>`;

interface Prediction {
  shape: number[];
  values: number[];
  output: string;
}
type Report =
  | { page: 'stock'; error?: string; loaded?: boolean }
  | { page: 'supcon'; error?: string; a?: Prediction; b?: Prediction };

async function bundlePage(): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    stdin: {
      contents: SCRIPT,
      // Resolve 'supcon' and '@tensorflow/tfjs' as this package does (the workspace's node_modules).
      resolveDir: fileURLToPath(new URL('../..', import.meta.url)),
      loader: 'js',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return result.outputFiles[0]!.text;
}

describe('a ViT export in headless Chromium', { skip, timeout: 120_000 }, () => {
  let dir: string;
  const expected: Record<string, { shape: number[]; node: number[]; ours: number[] }> = {};
  const reports: Report[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'supcon-vit-browser-'));
    const x = tf.tensor4d(
      Float32Array.from({ length: SIZE }, (_, i) => input(i)),
      [BATCH, ...SHAPE],
    );
    for (const [name, { size, withHead }] of Object.entries(MODELS)) {
      const spec = presetSpec('fashion-quick');
      spec.model = {
        encoder: { kind: 'vit', ...size },
        head: { kind: 'projection', projection: 'mlp', outputDim: 8, normalizeInput: false },
      };
      const encoder = buildEncoder(spec.model, [...SHAPE], 5);
      const head = buildHead(spec, encoder.outputDim, 3);
      // Move every weight off its initialisation (zero biases, unit LayerNorms, zero class token),
      // so that no custom layer is an identity the check would miss.
      for (const p of [...encoder.variables(), ...head.variables()])
        p.variable.assign(
          tf.tidy(() => tf.add(p.variable, tf.randomUniform(p.variable.shape, -0.3, 0.3, 'float32', 17))),
        );
      const data = {
        dataset: { name: 'mnist' as const, classes: ['zero', 'one', 'two'], mean: [0.5], std: [0.25] },
        train: { height: SHAPE[0], width: SHAPE[1], channels: SHAPE[2] },
      };
      await exportLayersModel(join(dir, name), { spec, encoder, ...(withHead ? { head } : {}), data });
      const ours = tf.tidy(() => {
        const features = encoder.apply(x, false);
        return withHead ? head.apply(features, false) : features;
      });
      const loaded = await loadExportedModel(join(dir, name));
      const node = loaded.predict(x) as tf.Tensor;
      expected[name] = {
        shape: node.shape,
        node: Array.from(node.dataSync()),
        ours: Array.from(ours.dataSync()),
      };
      tf.dispose([node, ours, ...[...encoder.variables(), ...head.variables()].map((p) => p.variable)]);
      loaded.dispose();
    }
    x.dispose();

    const tfMin = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs')), 'tf.min.js');
    const file = (path: string) => readFileSync(join(dir, path));
    const routes: Record<string, [string, () => string | Buffer]> = {
      '/': ['text/html', () => STOCK_PAGE],
      '/supcon.html': ['text/html', () => SUPCON_PAGE],
      '/tf.min.js': ['text/javascript', () => readFileSync(tfMin)],
    };
    for (const name of Object.keys(MODELS)) {
      routes[`/${name}/model.json`] = ['application/json', () => file(`${name}/model.json`)];
      routes[`/${name}/weights.bin`] = ['application/octet-stream', () => file(`${name}/weights.bin`)];
    }
    const script = await bundlePage();
    routes['/page.js'] = ['text/javascript', () => script];

    let server: Server | undefined;
    let browser: ReturnType<typeof browse> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the pages reported ${reports.length} of 2 results within 60 s`)),
          60_000,
        );
        server = createServer((req, res) => {
          if (req.method === 'POST' && req.url === '/result') {
            let body = '';
            req.on('data', (c) => {
              body += c;
            });
            req.on('end', () => {
              res.end('ok');
              reports.push(JSON.parse(body) as Report);
              if (reports.some((r) => r.page === 'supcon')) {
                clearTimeout(timer);
                resolve();
              }
            });
            return;
          }
          const route = routes[req.url ?? ''];
          if (!route) {
            res.statusCode = 404;
            res.end();
            return;
          }
          res.setHeader('content-type', route[0]);
          res.end(route[1]());
        });
        server.listen(0, '127.0.0.1', () => {
          const { port } = server!.address() as AddressInfo;
          browser = browse(`http://127.0.0.1:${port}/`, join(dir, 'profile'));
          browser.child.on('error', reject);
        });
      });
    } finally {
      if (browser) {
        kill(browser.child);
        await Promise.race([browser.exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads in Node through the registered layers and predicts our forward', () => {
    for (const name of Object.keys(MODELS)) {
      const { node, ours } = expected[name]!;
      const scale = Math.max(...ours.map(Math.abs));
      for (let i = 0; i < node.length; i++)
        assert.ok(
          Math.abs(node[i]! - ours[i]!) <= TOLERANCE * scale,
          `${name}: Node's loaded model ${node[i]} vs our forward ${ours[i]} at ${i}`,
        );
    }
  });

  it('does not load with stock TensorFlow.js alone: the custom layer is unknown', () => {
    const stock = reports.find((r) => r.page === 'stock');
    assert.ok(stock, 'the stock page reported nothing');
    assert.ok(!('loaded' in stock && stock.loaded), 'the stock page loaded the ViT without supcon');
    assert.match(stock.error ?? '', /Unknown layer: Supcon(Tokens|LayerNorm|SelfAttention|Gelu)/);
  });

  it("loads in the page after `import 'supcon'` and predicts what Node predicts", () => {
    const page = reports.find((r) => r.page === 'supcon');
    assert.ok(page?.page === 'supcon');
    assert.equal(page.error, undefined, `the page failed: ${page.error}`);
    for (const name of ['a', 'b'] as const) {
      const got: Prediction = page[name]!;
      const { shape, node } = expected[name]!;
      assert.deepEqual(got.shape, shape, `${name}: shape`);
      assert.deepEqual(shape, [BATCH, MODELS[name].withHead ? 8 : MODELS[name].size.dim]);
      assert.equal(got.output, MODELS[name].withHead ? 'embeddings' : 'features');
      const scale = Math.max(...node.map(Math.abs));
      assert.ok(scale > 0.1, `${name}: outputs not all near zero (max |y| = ${scale})`);
      for (let i = 0; i < node.length; i++)
        assert.ok(
          Math.abs(got.values[i]! - node[i]!) <= TOLERANCE * scale,
          `${name}: browser ${got.values[i]} vs Node ${node[i]} at ${i}`,
        );
    }
  });
});
