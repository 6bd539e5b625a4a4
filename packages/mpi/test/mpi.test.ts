/**
 * The addon under a real launcher: `mpirun -np 2` over loopback TCP (the flags of launch.ts, with
 * `--timeout`). Checks the gather with uneven lengths, an all-reduce that is bit-identical on both
 * ranks and equal to rank 0 + rank 1 added in float32, a broadcast, the local rank and size, and an
 * abort that ends the whole job at once with its code. Skipped when mpirun is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launchedByMpi, loadMpi, localMpirun, MpiUnavailableError, mpiLoadError } from '../src/index.js';

const child = fileURLToPath(new URL('./collectives-child.js', import.meta.url));
// Without Open MPI the tests skip; with it, an addon that does not load fails them (the message says why).
const skip =
  spawnSync('mpirun', ['--version']).status === 0
    ? false
    : 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)';

test('the addon loads where mpirun is installed', { skip }, () => {
  assert.equal(mpiLoadError(), undefined);
});

function mpirun(kase: string) {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-mpi-'));
  const { file, args, env } = localMpirun({
    processes: 2,
    threads: 1,
    timeoutSeconds: 60,
    command: [process.execPath, child, kase, dir],
  });
  const started = performance.now();
  const r = spawnSync(file, args, { env, encoding: 'utf8', timeout: 90_000 });
  const seconds = (performance.now() - started) / 1000;
  const lines = readdirSync(dir)
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>);
  rmSync(dir, { recursive: true, force: true });
  return { ...r, lines, seconds };
}

const floats = (hex: unknown) => {
  const b = Buffer.from(hex as string, 'hex');
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

test('allgatherv, allreduceSum, broadcast, local rank and size on 2 ranks', {
  skip,
  timeout: 120_000,
}, () => {
  const r = mpirun('collectives');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.lines.length, 2, r.stderr);
  const [a, b] = r.lines as [Record<string, unknown>, Record<string, unknown>];
  for (const x of [a, b]) {
    assert.equal(x['size'], 2);
    assert.equal(x['launched'], true);
    assert.equal(x['localSize'], 2, 'both ranks run on this machine');
    assert.deepEqual(x['gathered'], [0, 10, 11], 'rank 0 sent 1 value, rank 1 two, in rank order');
    assert.equal(x['none'], 0);
    assert.deepEqual(x['bytes'], [0, 255, 1, 254]);
    assert.equal(x['message'], 'from rank 1');
  }
  assert.deepEqual([a['localRank'], b['localRank']], [0, 1]);
  assert.equal(a['sum'], b['sum'], 'the same bits on both ranks');
  // The float32 sum of rank 0's and rank 1's values, computed here.
  const x0 = floats(a['local']);
  const x1 = floats(b['local']);
  const expected = Float32Array.from(x0, (v, i) => v + x1[i]!);
  assert.equal(Buffer.from(expected.buffer).toString('hex'), a['sum']);
});

test('abort on one rank ends the job within seconds with its exit code', { skip, timeout: 120_000 }, () => {
  const r = mpirun('abort');
  assert.equal(r.status, 3, `exit ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, /rank 1: aborting on purpose/);
  assert.equal(r.lines.length, 0, 'rank 0 never got past the barrier');
  assert.ok(r.seconds < 30, `${r.seconds} s`);
});

test('bad arguments are refused in JavaScript with one sentence', { skip, timeout: 120_000 }, () => {
  const r = mpirun('bad-argument');
  assert.equal(r.status, 0, r.stderr);
  for (const line of r.lines)
    assert.match(
      line['error'] as string,
      /argument `values`\. Expected a Float32Array\. Received: values=\[1, 2\]/,
    );
});

test('without a launcher: launchedByMpi is false and init refuses with one sentence', { skip }, () => {
  assert.equal(launchedByMpi({}), false);
  assert.equal(launchedByMpi({ OMPI_COMM_WORLD_SIZE: '2' }), true);
  assert.equal(launchedByMpi({ PMIX_RANK: '0' }), true);
  assert.equal(launchedByMpi({ PMI_RANK: '3' }), true);
  const env = { ...process.env };
  for (const k of ['OMPI_COMM_WORLD_SIZE', 'PMIX_RANK', 'PMI_RANK']) delete process.env[k];
  try {
    assert.throws(
      () => loadMpi().init(),
      (e: Error) =>
        e instanceof MpiUnavailableError &&
        /only in a process an MPI launcher started.*mpirun -np N/.test(e.message),
    );
  } finally {
    Object.assign(process.env, env);
  }
});

test('a missing addon is one sentence naming the fix', () => {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import('@supcon/mpi').then((m) => { try { m.loadMpi(); } catch (e) { console.log(e.name + ': ' + e.message); } })",
    ],
    { env: { ...process.env, SUPCON_MPI_ADDON: '/nonexistent/supcon_mpi.node' }, encoding: 'utf8' },
  );
  assert.match(
    r.stdout,
    /^MpiUnavailableError: The MPI addon \/nonexistent\/supcon_mpi\.node could not be loaded \(.*\); install Open MPI and rebuild it: apt-get install -y openmpi-bin libopenmpi-dev/,
  );
});

test('without MPI development files the install script reports and succeeds (npm ci goes on)', () => {
  const script = fileURLToPath(new URL('../../scripts/build-addon.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script], { env: { PATH: '/nonexistent' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /the MPI addon was not built: no MPI development files found/);
  assert.match(r.stderr, /to fix it, run: apt-get install -y openmpi-bin libopenmpi-dev/);
  const strict = spawnSync(process.execPath, [script, '--strict'], {
    env: { PATH: '/nonexistent' },
    encoding: 'utf8',
  });
  assert.equal(strict.status, 1);
});
