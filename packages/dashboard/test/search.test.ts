/**
 * The /search page: its math (neighbours.ts) in Node, the server's read-only `/models/` (nothing
 * outside the folder) and test-split gallery, and the page in headless Chromium on the cpu backend:
 * gallery image 0, clicked and then dropped as an enlarged letterboxed PNG, finds itself first with
 * cosine ≈ 1, and the top 10 match what the same encoder computes in Node.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dashboard, startDashboard } from '../src/index.js';
import { modelFile } from '../src/models.js';
import { borderMean, centreSquare, normalizeRows, toGrey, topK } from '../web/neighbours.js';
import { browse, kill, skip } from './chromium.js';

const GALLERY = 200;

/** A GET with the path sent exactly as written (fetch would normalise `..` away first). */
function rawGet(url: string, path: string, host?: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers: host ? { host } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const hasData = await import('@supcon/node')
  .then(({ loadDataset }) => loadDataset('fashion-mnist'))
  .then(
    () => true,
    () => false,
  );

const noData = !hasData && 'Fashion-MNIST is not on this machine';

describe('search math', () => {
  it('ranks by cosine similarity, best first, ties by index', () => {
    const gallery = normalizeRows(Float32Array.from([1, 0, 0, 2, 3, 0, 1, 1, 2, 0]), 2); // [5, 2]
    const query = normalizeRows(Float32Array.from([0, 5]), 2);
    const hits = topK(gallery, query, 3);
    assert.deepEqual(
      hits.map((h) => h.index),
      [1, 3, 0],
    );
    assert.ok(Math.abs(hits[0]!.score - 1) < 1e-6);
    assert.ok(Math.abs(hits[1]!.score - Math.SQRT1_2) < 1e-6);
    assert.equal(hits[2]!.score, 0);
    assert.equal(topK(gallery, query, 10).length, 5);
  });

  it('makes grey pixels over black, inverts on request, finds light borders and centre squares', () => {
    assert.deepEqual([...toGrey([255, 255, 255, 255, 255, 0, 0, 255, 10, 10, 10, 0])], [255, 76, 0]);
    assert.deepEqual([...toGrey([255, 255, 255, 255], true)], [0]);
    const light = new Uint8Array(9).fill(200);
    light[4] = 0;
    assert.equal(borderMean(light, 3), 200);
    assert.deepEqual(centreSquare(140, 112), [14, 0, 112]);
    assert.deepEqual(centreSquare(28, 35), [0, 3, 28]);
  });
});

describe('/models/ and the test gallery', () => {
  let dashboard: Dashboard;
  let root: string;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'supcon-search-'));
    dashboard = await startDashboard({ runs: root, port: 0 });
  });
  after(async () => {
    await dashboard.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves the shipped models read-only', async () => {
    const index = await rawGet(dashboard.url, '/models/index.json');
    assert.equal(index.status, 200);
    const { models } = JSON.parse(index.body) as { models: string[] };
    assert.ok(models.length > 0);
    const card = await rawGet(dashboard.url, `/models/${models[0]}/card.json`);
    assert.equal(card.status, 200);
    assert.match(card.body, /"format": "supcon-model-card"/);
    const r = await fetch(new URL(`models/${models[0]}/weights.bin`, dashboard.url));
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
  });

  it('refuses every path that would leave the models folder', async () => {
    for (const path of [
      '/models/../package.json',
      '/models/fashion-supcon-small/../../package.json',
      '/models/%2e%2e/package.json',
      '/models/..%2Fpackage.json',
      '/models/fashion-supcon-small%2F..%2F..%2Fpackage.json',
      '/models/a/b/c.json',
      '/models/.hidden.json',
      '/models//etc/passwd',
      '/models/index.js',
    ]) {
      const { status, body } = await rawGet(dashboard.url, path);
      assert.ok(status === 403 || status === 404, `${path}: ${status}`);
      assert.doesNotMatch(body, /"name": "@supcon\/pretrained"|root:/, path);
    }
    // The Host check guards /models/ too.
    assert.equal((await rawGet(dashboard.url, '/models/index.json', 'evil.example')).status, 403);
  });

  it('serves the first N test images and labels of a dataset', { skip: noData }, async () => {
    const { loadDataset } = await import('@supcon/node');
    const test = (await loadDataset('fashion-mnist')).test!;
    const r = await fetch(new URL('api/datasets/fashion-mnist/test.bin?count=5', dashboard.url));
    const bytes = new Uint8Array(await r.arrayBuffer());
    assert.equal(bytes.length, 5 * 784 + 5);
    assert.deepEqual(bytes.subarray(0, 5 * 784), new Uint8Array(test.images.subarray(0, 5 * 784)));
    assert.deepEqual([...bytes.subarray(5 * 784)], [...test.labels.subarray(0, 5)]);
    const meta = (await (await fetch(new URL('api/datasets/fashion-mnist', dashboard.url))).json()) as {
      testCount: number;
    };
    assert.equal(meta.testCount, 10_000);
    const tooMany = await fetch(new URL('api/datasets/fashion-mnist/test.bin?count=10001', dashboard.url));
    assert.equal(tooMany.status, 400);
  });

  it('does not follow a symlink out of the folder', () => {
    const models = join(root, 'models');
    mkdirSync(models);
    writeFileSync(join(root, 'secret.json'), '{"secret": true}');
    symlinkSync(join(root, 'secret.json'), join(models, 'leak.json'));
    assert.throws(() => modelFile('/models/leak.json', models), /leaves/);
    writeFileSync(join(models, 'index.json'), '{"models": []}');
    assert.equal(modelFile('/models/index.json', models).body.toString(), '{"models": []}');
  });
});

describe('/search in headless Chromium', {
  skip: skip || (!hasData && 'Fashion-MNIST is not on this machine'),
}, () => {
  let dashboard: Dashboard;
  let root: string;
  const reports: Record<string, unknown>[] = [];
  let reported = () => {};
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'supcon-search-'));
    dashboard = await startDashboard({
      runs: root,
      port: 0,
      onClientReport: (r) => {
        reports.push(r as Record<string, unknown>);
        reported();
      },
    });
  });
  after(async () => {
    await dashboard.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('finds a test image as its own nearest neighbour, clicked or dropped as a file', async () => {
    const url = `${dashboard.url}search?test=1&report=1&backend=cpu&count=${GALLERY}`;
    const b = browse(url, join(root, 'profile'));
    try {
      const report = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no report from the page in 60 s: ${b.output().stderr.slice(-1500)}`)),
          60_000,
        );
        reported = () => {
          clearTimeout(timer);
          resolve(reports.at(-1)!);
        };
        void b.exited.then((code) =>
          reject(new Error(`Chromium exited (${code}): ${b.output().stderr.slice(-1500)}`)),
        );
      });
      assert.equal(report['error'], undefined, String(report['error']));
      assert.equal(report['backend'], 'cpu');
      assert.equal(report['count'], GALLERY);
      type Hits = { hits: { index: number; score: number }[]; captions: string[] };
      const click = report['click'] as Hits;
      const file = report['file'] as Hits;
      assert.equal(click.hits.length, 10);
      assert.equal(click.hits[0]!.index, 0);
      assert.ok(Math.abs(click.hits[0]!.score - 1) < 1e-4, String(click.hits[0]!.score));
      // The file path (decode, centre crop of 112×140, resize to 28×28, grey) gives back the same image.
      assert.equal(file.hits[0]!.index, 0);
      assert.ok(file.hits[0]!.score > 0.99, String(file.hits[0]!.score));
      // Same encoder and kernels in Node: the same neighbours, in the same order.
      const { loadPretrained } = await import('@supcon/pretrained');
      const { loadDataset } = await import('@supcon/node');
      const encoder = await loadPretrained(String(report['model']));
      const test = (await loadDataset('fashion-mnist')).test!;
      const dim = encoder.card.outputDim;
      const [height, width, channels] = encoder.card.inputShape;
      const pixels = test.images.subarray(0, GALLERY * height * width * channels);
      const features = normalizeRows(encoder.embed(pixels, GALLERY), dim);
      const inNode = topK(features, features.subarray(0, dim), 10);
      assert.deepEqual(
        click.hits.map((h) => h.index),
        inNode.map((h) => h.index),
      );
      for (const [k, h] of inNode.entries()) assert.ok(Math.abs(h.score - click.hits[k]!.score) < 1e-4);
      // Each result is shown with its class name and score.
      const classes = encoder.card.classes;
      for (const [k, h] of click.hits.entries())
        assert.equal(click.captions[k], `${classes[test.labels[h.index]!]} ${h.score.toFixed(3)}`);
      console.log(
        `search page: ${GALLERY} gallery images embedded on ${report['backend']} in ${(report['embedSeconds'] as number).toFixed(1)} s; ` +
          `self-match ${click.hits[0]!.score.toFixed(5)} (click), ${file.hits[0]!.score.toFixed(5)} (file)`,
      );
      encoder.dispose();
    } finally {
      kill(b.child);
      await b.exited;
    }
  });
});
