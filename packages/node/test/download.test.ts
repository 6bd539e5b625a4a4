/**
 * Downloads against a local HTTP server on 127.0.0.1 that serves files this test makes: a good
 * one, a corrupted one (wrong checksum), one whose first transfer stops midway (then resumed
 * with a Range request), and a missing one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { DatasetError, DownloadError, downloadDataset, downloadFile, extractTarGz } from '@supcon/node';
import { tinyIdx } from './helpers.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const payload = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
const files: Record<string, Uint8Array> = {
  '/good.bin': payload,
  '/corrupt.bin': payload.map((v, i) => (i === 777 ? v ^ 1 : v)),
};
const log: { path: string; range: string | undefined }[] = [];
let stopNext = true;
let server: Server;
let base = '';
let dir = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'supcon-download-'));
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    log.push({ path, range: req.headers.range });
    const body = files[path] ?? (path === '/stops.bin' ? payload : undefined);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start >= body.length) {
      res.writeHead(416).end();
      return;
    }
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, {
      'content-length': String(slice.length),
      ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (path === '/stops.bin' && stopNext) {
      stopNext = false;
      res.write(slice.subarray(0, 70_000), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a good file is verified, renamed into place, and skipped when already present', async () => {
  const progress: number[] = [];
  const r = await downloadFile({ name: 'good.bin', url: `${base}/good.bin`, md5: md5(payload) }, dir, (p) =>
    progress.push(p.received),
  );
  assert.equal(r.skipped, false);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'good.bin'))), payload);
  assert.ok(!existsSync(join(dir, 'good.bin.part')));
  assert.equal(progress.at(-1), payload.length);
  const again = await downloadFile({ name: 'good.bin', url: `${base}/good.bin`, md5: md5(payload) }, dir);
  assert.equal(again.skipped, true);
});

test('a corrupted file fails its checksum, leaves nothing behind and names the file', async () => {
  await assert.rejects(
    downloadFile({ name: 'corrupt.bin', url: `${base}/corrupt.bin`, md5: md5(payload) }, dir),
    (e: Error) =>
      e instanceof DownloadError &&
      /corrupt\.bin from .* failed its checksum \(expected MD5 [0-9a-f]{32}, got [0-9a-f]{32}\)/.test(
        e.message,
      ),
  );
  assert.ok(!existsSync(join(dir, 'corrupt.bin')));
  assert.ok(!existsSync(join(dir, 'corrupt.bin.part')));
});

test('a transfer that stops midway is reported, kept as .part, and resumed with a Range request', async () => {
  const file = { name: 'stops.bin', url: `${base}/stops.bin`, md5: md5(payload) };
  await assert.rejects(
    downloadFile(file, dir),
    (e: Error) =>
      e instanceof DownloadError &&
      /stopped after \d+ of 200000 bytes.*run the command again to resume/.test(e.message),
  );
  const kept = statSync(join(dir, 'stops.bin.part')).size;
  assert.ok(kept >= 70_000 && kept < payload.length, `kept ${kept}`);
  assert.ok(!existsSync(join(dir, 'stops.bin')));
  const r = await downloadFile(file, dir);
  assert.equal(r.resumedFrom, kept);
  assert.equal(log.at(-1)!.range, `bytes=${kept}-`);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'stops.bin'))), payload);
});

test('HTTP errors and unreachable servers are one sentence', async () => {
  await assert.rejects(
    downloadFile({ name: 'x', url: `${base}/missing.bin`, md5: '0'.repeat(32) }, dir),
    /missing\.bin answered HTTP 404/,
  );
  // A port that was free a moment ago: nothing listens there.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(
    downloadFile({ name: 'x', url: `http://127.0.0.1:${port}/none`, md5: '0'.repeat(32) }, dir),
    (e: Error) =>
      e instanceof DownloadError &&
      e.message === `Cannot reach http://127.0.0.1:${port}/none (ECONNREFUSED).`,
  );
});

function tarEntry(name: string, data: Uint8Array): Uint8Array {
  const header = new Uint8Array(512);
  header.set(Buffer.from(name), 0);
  header.set(Buffer.from(`${data.length.toString(8).padStart(11, '0')}\0`), 124);
  header[156] = '0'.charCodeAt(0);
  const out = new Uint8Array(512 + Math.ceil(data.length / 512) * 512);
  out.set(header);
  out.set(data, 512);
  return out;
}

test('CIFAR-style archives are unpacked after verification; escaping paths are refused', async () => {
  const inner = Uint8Array.from([1, 2, 3, 4, 5]);
  const tar = Buffer.concat([tarEntry('cifar-10-batches-bin/test_batch.bin', inner), new Uint8Array(1024)]);
  const gz = gzipSync(tar);
  files['/archive.tar.gz'] = gz;
  const sub = join(dir, 'cifar');
  await downloadDataset(
    { files: [{ name: 'archive.tar.gz', url: `${base}/archive.tar.gz`, md5: md5(gz) }], extract: true },
    sub,
  );
  assert.deepEqual(new Uint8Array(readFileSync(join(sub, 'cifar-10-batches-bin', 'test_batch.bin'))), inner);
  const evil = join(dir, 'evil.tar.gz');
  writeFileSync(evil, gzipSync(Buffer.concat([tarEntry('../../etc/x', inner), new Uint8Array(1024)])));
  assert.throws(
    () => extractTarGz(evil, sub),
    (e: Error) => e instanceof DatasetError && /points outside the target folder/.test(e.message),
  );
});

test('supcon data download mnist from a manifest: verified, parsed, summarised; a bad checksum exits 1', async () => {
  const cli = join(import.meta.dirname, '../../../cli/bin/supcon.js');
  const train = tinyIdx(40, 28, 28, 3);
  const t10k = tinyIdx(10, 28, 28, 4);
  const made: Record<string, Uint8Array> = {
    'train-images-idx3-ubyte.gz': gzipSync(train.images),
    'train-labels-idx1-ubyte.gz': gzipSync(train.labels),
    't10k-images-idx3-ubyte.gz': gzipSync(t10k.images),
    't10k-labels-idx1-ubyte.gz': gzipSync(t10k.labels),
  };
  for (const [name, bytes] of Object.entries(made)) files[`/mnist/${name}`] = bytes;
  const manifest = join(dir, 'manifest.json');
  const entries = Object.entries(made).map(([name, bytes]) => ({
    name,
    url: `${base}/mnist/${name}`,
    md5: md5(bytes),
  }));
  writeFileSync(manifest, JSON.stringify({ files: entries }));
  const target = join(dir, 'mnist');
  const run = promisify(execFile);
  const { stdout } = await run(process.execPath, [
    cli,
    'data',
    'download',
    'mnist',
    '--dir',
    target,
    '--manifest',
    manifest,
    '--json',
  ]);
  const result = JSON.parse(stdout);
  assert.equal(result.files.length, 4);
  assert.equal(result.splits.train.samples, 40);
  assert.equal(result.splits.test.samples, 10);
  entries[0]!.md5 = '0'.repeat(32);
  writeFileSync(manifest, JSON.stringify({ files: entries }));
  rmSync(target, { recursive: true });
  await assert.rejects(
    run(process.execPath, [cli, 'data', 'download', 'mnist', '--dir', target, '--manifest', manifest]),
    (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1);
      assert.match(
        e.stderr.trim(),
        /^supcon: train-images-idx3-ubyte\.gz from http:\/\/127\.0\.0\.1:\d+\/mnist\/train-images-idx3-ubyte\.gz failed its checksum/,
      );
      assert.equal(e.stderr.trim().split('\n').length, 1);
      return true;
    },
  );
});
