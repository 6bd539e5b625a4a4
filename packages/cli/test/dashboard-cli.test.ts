/**
 * `supcon dashboard` as a user starts it: it prints its URL (--json), serves the runs of --runs, stops
 * cleanly on SIGINT; warns when listening beyond loopback; --allow-host and --static; --help; and the
 * errors for a missing runs folder, a bad port and a bad host name.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));

test('supcon dashboard serves the runs folder and stops on SIGINT', async () => {
  const runs = mkdtempSync(join(tmpdir(), 'supcon-dashboard-cli-'));
  try {
    mkdirSync(join(runs, 'r1'));
    writeFileSync(
      join(runs, 'r1', 'config.json'),
      JSON.stringify({ train: { method: 'simclr', epochs: 1 } }),
    );
    writeFileSync(
      join(runs, 'r1', 'metrics.jsonl'),
      `${JSON.stringify({ type: 'step', epoch: 0, iteration: 0, loss: 3 })}\n`,
    );
    const child = spawn(process.execPath, [bin, 'dashboard', '--runs', runs, '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const first = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      void exited.then((code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
    });
    const { url } = JSON.parse(first) as { url: string };
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const body = (await (await fetch(`${url}api/runs`)).json()) as { runs: { id: string; method: string }[] };
    assert.deepEqual(
      body.runs.map((r) => [r.id, r.method]),
      [['r1', 'simclr']],
    );
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    // On loopback: no warning.
    assert.doesNotMatch(stderr, /warning/);
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
});

/** Starts `supcon dashboard ARGS --port 0 --json`; resolves its URL once it listens. */
async function startCli(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [bin, 'dashboard', ...args, '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    void exited.then((code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
  });
  const { url } = JSON.parse(first) as { url: string };
  return { url, child, exited, stderr: () => stderr };
}

/** The status of GET `path` on 127.0.0.1:`port` with `host` as the Host header. */
function statusWithHost(port: string, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('supcon dashboard --host 0.0.0.0 warns on stderr; --allow-host and --static take effect', async () => {
  const runs = mkdtempSync(join(tmpdir(), 'supcon-dashboard-cli-'));
  try {
    mkdirSync(join(runs, 'r1'));
    writeFileSync(
      join(runs, 'r1', 'metrics.jsonl'),
      `${JSON.stringify({ type: 'step', iteration: 0, loss: 3 })}\n`,
    );
    const d = await startCli([
      '--runs',
      runs,
      '--host',
      '0.0.0.0',
      '--allow-host',
      'mybox,mybox.lan',
      '--static',
    ]);
    try {
      const port = new URL(d.url).port;
      assert.match(
        d.stderr(),
        /^supcon: warning: the dashboard listens on 0\.0\.0\.0, which other machines can reach, and has no authentication/m,
      );
      assert.equal(await statusWithHost(port, '/api/runs', `mybox.lan:${port}`), 200);
      assert.equal(await statusWithHost(port, '/api/runs', `localhost:${port}`), 200);
      assert.equal(await statusWithHost(port, '/api/runs', `evil.example:${port}`), 403);
      // Screenshot mode: no live stream.
      assert.equal(await statusWithHost(port, '/api/events?id=r1', `localhost:${port}`), 204);
    } finally {
      d.child.kill('SIGINT');
      assert.equal(await d.exited, 0, d.stderr());
    }
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
});

test('supcon dashboard --help shows --static (screenshot mode), --allow-host and the warning', () => {
  const help = spawnSync(process.execPath, [bin, 'dashboard', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--static\s+screenshot mode: no live stream/);
  assert.match(help.stdout, /\?static=1/);
  assert.match(help.stdout, /--allow-host NAMES/);
  assert.match(help.stdout, /lr, τ, batch, epochs, method, encoder, precision/);
});

test('supcon dashboard: errors name the flag', () => {
  const missing = spawnSync(process.execPath, [bin, 'dashboard', '--runs', '/no/such/folder'], {
    encoding: 'utf8',
  });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /Invalid value for `--runs`.*Received: \/no\/such\/folder/);
  const port = spawnSync(process.execPath, [bin, 'dashboard', '--port', '70000'], { encoding: 'utf8' });
  assert.notEqual(port.status, 0);
  assert.match(port.stderr, /`--port`.*70000/);
  const host = spawnSync(process.execPath, [bin, 'dashboard', '--allow-host', 'mybox,evil.example:80'], {
    encoding: 'utf8',
  });
  assert.notEqual(host.status, 0);
  assert.match(host.stderr, /Invalid value for `--allow-host`\. Expected .*Received: evil\.example:80\./);
});
