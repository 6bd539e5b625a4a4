/**
 * `supcon dashboard` as a user starts it: it prints its URL (--json), serves the runs of --runs, stops
 * cleanly on SIGINT; and the errors for a missing runs folder and a bad port.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
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
});
