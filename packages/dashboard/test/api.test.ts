import assert from 'node:assert/strict';
import { appendFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { get, request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dashboard, hostCheck, hostName, isHostName, isLoopback, startDashboard } from '../src/index.js';
import { line, makeRunsFolder, step } from './fixtures.js';

let dashboard: Dashboard;
let folder: { root: string; runs: string };

async function api(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(new URL(path, dashboard.url));
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** Opens an SSE stream; resolves the `data:` payloads as they come. */
function events(path: string) {
  const received: string[] = [];
  let notify = () => {};
  let opened!: () => void;
  const open = new Promise<void>((r) => {
    opened = r;
  });
  const req = get(new URL(path, dashboard.url), (res) => {
    assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    res.setEncoding('utf8');
    let buffer = '';
    res.on('data', (chunk: string) => {
      opened();
      buffer += chunk;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        for (const l of buffer.slice(0, end).split('\n'))
          if (l.startsWith('data: ')) received.push(l.slice(6));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
      notify();
    });
  });
  const waitFor = (n: number, ms = 5000) =>
    new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} events after ${ms} ms`)), ms);
      const check = () => {
        if (received.length >= n) {
          clearTimeout(timer);
          resolve(received.slice());
        }
      };
      notify = check;
      check();
    });
  return { open, waitFor, close: () => req.destroy() };
}

describe('dashboard API', () => {
  before(async () => {
    folder = makeRunsFolder();
    dashboard = await startDashboard({ runs: folder.runs, port: 0, pollMs: 50 });
  });
  after(async () => {
    await dashboard.close();
    rmSync(folder.root, { recursive: true, force: true });
  });

  it('lists every run folder with method, status, latest loss and test accuracy', async () => {
    const { status, body } = await api('/api/runs');
    assert.equal(status, 200);
    const runs = body['runs'] as Record<string, unknown>[];
    // `link` points out of the folder: not listed.
    assert.deepEqual(
      runs.map((r) => r['id']),
      ['a', 'b', 'live', 'tau/temperature=0.1'],
    );
    const a = runs[0]!;
    assert.equal(a['method'], 'supcon');
    assert.equal(a['dataset'], 'fashion-mnist');
    assert.equal(a['encoder'], 'mlp');
    assert.equal(a['status'], 'evaluated');
    assert.equal(a['latestLoss'], 4.9);
    assert.equal(a['iterations'], 3);
    assert.equal(a['epochsDone'], 1);
    assert.equal(a['knnAccuracy'], 0.71);
    assert.equal(a['testAccuracy'], 0.8);
    assert.equal(a['hasRobustness'], true);
    // The relative mCE and the absolute mean corruption error, each under its own name.
    assert.equal(a['mCE'], 0.948);
    assert.equal(a['mCEBaseline'], 'runs/b');
    assert.equal(a['meanCorruptionError'], 0.365);
    // kNN test top-1 with the k and bank that produced it; an old summary's name is still read.
    assert.deepEqual([a['knnTestAccuracy'], a['knnTestK'], a['knnTestBank']], [0.79, 20, 500]);
    assert.equal(runs[1]!['knnTestAccuracy'], 0.6);
    assert.equal(runs[1]!['knnTestK'], undefined);
    assert.equal(runs[1]!['method'], 'ce');
    // Hyperparameters from config.json; the precision that ran (summary.json) over the one asked for.
    assert.deepEqual(
      [a['lr'], a['temperature'], a['batchSize'], a['epochs'], a['precision']],
      [0.05, 0.1, 64, 1, 'fp32'],
    );
    // Cross-entropy has no τ; a config without `precision` trained in fp32 (the default).
    assert.equal(runs[1]!['temperature'], undefined);
    assert.equal(runs[1]!['lr'], 0.05);
    assert.equal(runs[1]!['precision'], 'fp32');
    assert.equal(runs[2]!['status'], 'training'); // metrics written just now, no summary
    assert.equal(runs[3]!['status'], 'empty');
  });

  it("serves a run's metrics, summary, robustness table and the sweeps", async () => {
    const m = await api('/api/metrics?id=a');
    assert.equal(m.status, 200);
    const records = m.body['records'] as { type: string; loss: number }[];
    assert.deepEqual(
      records.map((r) => r.loss),
      [5.5, 5.2, 4.9, 5.2],
    );
    assert.equal(m.body['bytes'], statSync(join(folder.runs, 'a', 'metrics.jsonl')).size);
    const d = await api('/api/run?id=a');
    assert.equal((d.body['summary'] as Record<string, number>)['testAccuracy'], 0.8);
    const rb = d.body['robustness'] as { accuracy: Record<string, number[]> };
    assert.deepEqual(rb.accuracy['contrast'], [0.75, 0.5]);
    const s = await api('/api/sweeps');
    const sweeps = s.body['sweeps'] as { id: string; vary: string; runs: unknown[] }[];
    assert.equal(sweeps.length, 1);
    assert.equal(sweeps[0]!.id, 'tau');
    assert.equal(sweeps[0]!.vary, 'temperature');
  });

  it('streams a metrics line appended after the client connected (SSE), once complete', async () => {
    const file = join(folder.runs, 'live', 'metrics.jsonl');
    const { body } = await api('/api/metrics?id=live');
    const stream = events(`/api/events?id=live&offset=${body['bytes']}`);
    try {
      await stream.open;
      appendFileSync(file, line(step(1, 5.75)));
      const [first] = await stream.waitFor(1);
      assert.deepEqual(JSON.parse(first!), step(1, 5.75));
      // A record written in two parts is sent once, when its line ends.
      const text = line(step(2, 5.5));
      appendFileSync(file, text.slice(0, 20));
      await new Promise((r) => setTimeout(r, 200));
      appendFileSync(file, text.slice(20));
      const all = await stream.waitFor(2);
      assert.equal(all.length, 2);
      assert.deepEqual(JSON.parse(all[1]!), step(2, 5.5));
    } finally {
      stream.close();
    }
  });

  it('refuses ids that leave the runs folder with 4xx, and answers 404 for unknown runs', async () => {
    for (const id of [
      '..',
      '../outside',
      'a/../../outside',
      'link',
      '../../../../etc',
      'tau/../../outside',
    ]) {
      const { status, body } = await api(`/api/metrics?id=${encodeURIComponent(id)}`);
      assert.ok(status === 403 || status === 404, `${id}: ${status}`);
      assert.match(String(body['error']), /leaves the runs folder|No run/, id);
      assert.ok(!JSON.stringify(body).includes('"records"'), id);
    }
    assert.equal((await api(`/api/run?id=${encodeURIComponent('../outside')}`)).status, 403);
    assert.equal((await api(`/api/events?id=${encodeURIComponent('link')}`)).status, 403);
    assert.equal((await api(`/api/run?id=${encodeURIComponent('/etc')}`)).status, 400);
    assert.equal((await api('/api/metrics?id=')).status, 400);
    const unknown = await api('/api/metrics?id=nope');
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body['error']), /No run "nope"/);
    // A folder inside that is not a run.
    assert.equal((await api('/api/metrics?id=tau')).status, 404);
    assert.equal((await api('/api/nothing')).status, 404);
    assert.equal((await api('/api/datasets/..%2F..%2Fetc')).status, 404);
    assert.equal((await api('/api/datasets/unknown-set')).status, 404);
    const raw = await fetch(new URL('/assets/../../../etc/passwd', dashboard.url));
    assert.equal(raw.status, 404);
  });

  it('serves the pages and their bundled scripts', async () => {
    const html = await (await fetch(dashboard.url)).text();
    assert.match(html, /<script type="module" src="\/assets\/dashboard.js">/);
    const train = await (await fetch(new URL('/train', dashboard.url))).text();
    assert.match(train, /\/assets\/train.js/);
    const js = await fetch(new URL('/assets/dashboard.js', dashboard.url));
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await js.text()).includes('/api/runs'));
  });

  it('serves a dataset slice as pixels then labels, when the dataset is on disk', async (t) => {
    if (!existsSync('/usr/share/datasets/fashion-mnist')) return t.skip('fashion-mnist is not installed');
    const meta = await api('/api/datasets/fashion-mnist');
    assert.equal(meta.status, 200);
    assert.equal(meta.body['height'], 28);
    const bin = await fetch(new URL('/api/datasets/fashion-mnist/train.bin?count=5', dashboard.url));
    const bytes = new Uint8Array(await bin.arrayBuffer());
    assert.equal(bytes.length, 5 * 28 * 28 + 5);
    assert.ok(bytes.subarray(5 * 784).every((l) => l < 10));
    assert.equal((await api('/api/datasets/fashion-mnist/train.bin?count=0')).status, 400);
    assert.equal((await api('/api/datasets/fashion-mnist/train.bin?count=1000000')).status, 400);
  });
});

/** GET `path` from `d` with `host` as the Host header (fetch cannot set it). */
function withHost(d: Dashboard, path: string, host: string) {
  const url = new URL(path, d.url);
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: url.port, path: url.pathname + url.search, headers: { host } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard Host header (DNS rebinding)', () => {
  let folder: { root: string; runs: string };
  before(() => {
    folder = makeRunsFolder();
  });
  after(() => rmSync(folder.root, { recursive: true, force: true }));

  it('answers localhost and the listening address, refuses other names with 403 and one sentence', async () => {
    const d = await startDashboard({ runs: folder.runs, port: 0 });
    try {
      const port = new URL(d.url).port;
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, 'localhost', `LOCALHOST:${port}`])
        assert.equal((await withHost(d, '/api/runs', host)).status, 200, host);
      for (const host of [
        `evil.example:${port}`,
        'evil.example',
        `127.0.0.1.evil.example:${port}`,
        `localhost.evil.example:${port}`,
        `evil.example@127.0.0.1:${port}`,
        `192.168.1.20:${port}`,
      ]) {
        for (const path of ['/', '/api/runs', '/api/metrics?id=a', '/assets/dashboard.js']) {
          const r = await withHost(d, path, host);
          assert.equal(r.status, 403, `${host} ${path}`);
          assert.match(r.type, /^text\/plain/);
          assert.match(
            r.body,
            /^Refused a request for host "[^"]+": this dashboard answers only localhost, 127\.0\.0\.1 /,
          );
          assert.equal(r.body.trim().split('\n').length, 1, r.body);
          assert.ok(!r.body.includes('records'), r.body);
        }
      }
    } finally {
      await d.close();
    }
  });

  it('accepts names given in allowedHosts, and any IP literal when listening on every interface', async () => {
    const d = await startDashboard({ runs: folder.runs, port: 0, host: '0.0.0.0', allowedHosts: ['mybox'] });
    try {
      const port = new URL(d.url).port;
      for (const host of [`mybox:${port}`, `192.168.1.20:${port}`, `[::1]:${port}`, `localhost:${port}`])
        assert.equal((await withHost(d, '/api/runs', host)).status, 200, host);
      const refused = await withHost(d, '/api/runs', `evil.example:${port}`);
      assert.equal(refused.status, 403);
      assert.match(
        refused.body,
        /answers only localhost, any IP address and the names given to --allow-host/,
      );
    } finally {
      await d.close();
    }
  });

  it('hostCheck, hostName and isLoopback', () => {
    assert.equal(hostName('LocalHost:8080'), 'localhost');
    assert.equal(hostName('[::1]:8080'), '::1');
    assert.equal(hostName('::1'), '::1');
    assert.equal(hostName('a.example.'), 'a.example');
    assert.equal(hostName('user@127.0.0.1'), undefined);
    assert.equal(hostName('127.0.0.1/x'), undefined);
    assert.deepEqual(['mybox', 'mybox.lan', '[::1]', '10.0.0.2', 'mybox:80', 'a b', ''].map(isHostName), [
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    const ok = hostCheck(['127.0.0.1']);
    assert.deepEqual(['localhost:1', '127.0.0.1', '127.0.0.2', 'evil.example', ''].map(ok), [
      true,
      true,
      false,
      false,
      false,
    ]);
    // No Host header: no browser sent it, so nothing was rebound.
    assert.equal(ok(undefined), true);
    assert.equal(hostCheck(['::1'])('[::1]:80'), true);
    assert.equal(hostCheck(['::'])('[fe80::1]:80'), true);
    assert.equal(hostCheck(['::'])('evil.example'), false);
    assert.deepEqual(
      [
        '127.0.0.1',
        '127.1.2.3',
        '::1',
        '[::1]',
        'localhost',
        '0.0.0.0',
        '::',
        '192.168.1.2',
        'example.com',
      ].map(isLoopback),
      [true, true, true, true, true, false, false, false, false],
    );
  });
});

describe('dashboard screenshot mode (static)', () => {
  let folder: { root: string; runs: string };
  before(() => {
    folder = makeRunsFolder();
  });
  after(() => rmSync(folder.root, { recursive: true, force: true }));

  it('marks the pages static and answers the event stream 204, so an EventSource stops', async () => {
    const d = await startDashboard({ runs: folder.runs, port: 0, static: true });
    const normal = await startDashboard({ runs: folder.runs, port: 0 });
    try {
      assert.match(await (await fetch(d.url)).text(), /<body data-static="true">/);
      assert.match(await (await fetch(new URL('/train', d.url))).text(), /<body data-static="true">/);
      assert.doesNotMatch(await (await fetch(normal.url)).text(), /data-static/);
      const r = await fetch(new URL('/api/events?id=live', d.url));
      assert.equal(r.status, 204);
      assert.equal(await r.text(), '');
      // Everything else is served as usual.
      assert.equal((await fetch(new URL('/api/metrics?id=a', d.url))).status, 200);
    } finally {
      await d.close();
      await normal.close();
    }
  });
});
