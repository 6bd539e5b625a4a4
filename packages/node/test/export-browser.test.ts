/**
 * The exported model in a real browser: headless Chromium loads tf.min.js and
 * `tf.loadLayersModel('/model/model.json')` from a local HTTP server, predicts on a deterministic
 * input and POSTs the numbers back; they must equal Node's prediction. Fails if the page cannot
 * load the model (the page reports the error, or nothing arrives before the timeout).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { buildEncoder, buildHead, exportLayersModel, loadExportedModel, presetSpec } from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';

const CHROMIUM = ['chromium', 'chromium-browser'].find((c) => spawnSync('which', [c]).status === 0);
const SHAPE = [12, 12, 1] as const;
const BATCH = 2;

/** The same input on both sides: exact in float32, no Math.random, no transcendental functions. */
const INPUT_JS = `(i) => ((i * 7919) % 1000) / 500 - 1`;
const input = (i: number) => ((i * 7919) % 1000) / 500 - 1;

const PAGE = `<!doctype html><html><head><script src="/tf.min.js"></script></head><body><pre id="out">pending</pre>
<script>
(async () => {
  const report = (body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });
  try {
    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel('/model/model.json');
    const f = ${INPUT_JS};
    const n = ${BATCH * SHAPE[0] * SHAPE[1] * SHAPE[2]};
    const x = tf.tensor4d(Float32Array.from({ length: n }, (_, i) => f(i)), [${BATCH}, ${SHAPE.join(', ')}]);
    const y = model.predict(x);
    const values = Array.from(await y.data());
    document.getElementById('out').textContent = JSON.stringify(values);
    await report({ values, shape: y.shape, classes: model.getUserDefinedMetadata().supcon.classes });
  } catch (error) {
    await report({ error: String(error && error.stack || error) });
  }
})();
</script></body></html>`;

test('Chromium loads the exported model with tf.loadLayersModel and predicts what Node predicts', {
  skip: !CHROMIUM && 'chromium is not installed (scripts/setup.sh installs it)',
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-browser-'));
  const spec = presetSpec('fashion-quick');
  spec.model = {
    encoder: { kind: 'small-resnet', baseChannels: 4, blocksPerStage: 1, stemStride: 2 },
    head: { kind: 'projection', projection: 'mlp', outputDim: 16, normalizeInput: false },
  };
  const encoder = buildEncoder(spec.model, [...SHAPE], 3);
  const head = buildHead(spec, encoder.outputDim, 3);
  // Non-trivial BatchNorm statistics: a few training-mode forward passes.
  tf.tidy(() => {
    for (let s = 0; s < 3; s++)
      encoder.apply(tf.randomNormal([8, ...SHAPE], 0.3, 1.5, 'float32', s + 1), true);
  });
  const data = {
    dataset: { name: 'mnist' as const, classes: ['zero', 'one', 'two'], mean: [0.5], std: [0.25] },
    train: { height: SHAPE[0], width: SHAPE[1], channels: SHAPE[2] },
  };
  const modelDir = join(dir, 'model');
  await exportLayersModel(modelDir, { spec, encoder, head, data });
  const n = BATCH * SHAPE[0] * SHAPE[1] * SHAPE[2];
  const x = tf.tensor4d(
    Float32Array.from({ length: n }, (_, i) => input(i)),
    [BATCH, ...SHAPE],
  );
  const nodeModel = await loadExportedModel(modelDir);
  const expected = Array.from((nodeModel.predict(x) as tf.Tensor).dataSync());
  const ours = Array.from(tf.tidy(() => head.apply(encoder.apply(x, false), false)).dataSync());

  const tfMin = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs')), 'tf.min.js');
  const routes: Record<string, [string, string | Buffer]> = {
    '/': ['text/html', PAGE],
    '/tf.min.js': ['text/javascript', readFileSync(tfMin)],
    '/model/model.json': ['application/json', readFileSync(join(modelDir, 'model.json'))],
    '/model/weights.bin': ['application/octet-stream', readFileSync(join(modelDir, 'weights.bin'))],
  };
  let browser: ChildProcess | undefined;
  let server: Server | undefined;
  try {
    const result = await new Promise<{
      values?: number[];
      shape?: number[];
      classes?: string[];
      error?: string;
    }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the page reported nothing within 40 s')), 40_000);
      server = createServer((req, res) => {
        if (req.method === 'POST' && req.url === '/result') {
          let body = '';
          req.on('data', (c) => {
            body += c;
          });
          req.on('end', () => {
            res.end('ok');
            clearTimeout(timer);
            resolve(JSON.parse(body));
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
        res.end(route[1]);
      });
      server.listen(0, '127.0.0.1', () => {
        const { port } = server!.address() as AddressInfo;
        browser = spawn(
          CHROMIUM!,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-dev-shm-usage',
            '--no-first-run',
            `--user-data-dir=${join(dir, 'profile')}`,
            `http://127.0.0.1:${port}/`,
          ],
          { stdio: 'ignore', detached: true },
        );
        browser.on('error', (e) => reject(e));
      });
    });
    assert.equal(result.error, undefined, `the page failed: ${result.error}`);
    assert.deepEqual(result.shape, [BATCH, 16]); // head.outputDim
    assert.deepEqual(result.classes, ['zero', 'one', 'two']);
    const values = result.values!;
    assert.equal(values.length, expected.length);
    const scale = Math.max(...expected.map(Math.abs));
    for (let i = 0; i < values.length; i++) {
      assert.ok(
        Math.abs(values[i]! - expected[i]!) <= 1e-5 * scale,
        `browser ${values[i]} vs Node ${expected[i]} at ${i}`,
      );
      assert.ok(
        Math.abs(values[i]! - ours[i]!) <= 1e-4 * scale,
        `browser ${values[i]} vs our forward ${ours[i]} at ${i}`,
      );
    }
  } finally {
    // Chromium runs several processes: end the group this test started.
    if (browser?.pid !== undefined && browser.exitCode === null) {
      const exited = new Promise((resolve) => browser!.once('exit', resolve));
      try {
        process.kill(-browser.pid, 'SIGKILL');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      } catch {}
    }
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});
