/**
 * `supcon bench mpi` at tiny sizes under a real mpirun (2 ranks, loopback TCP and shared memory):
 * one row per collective and size, times and bandwidths consistent, a fit per collective, the
 * transport in the command line; bad flags are one sentence. Skipped when mpirun is missing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli, hasMpi } from './helpers.js';

const skip = hasMpi ? false : 'mpirun is not installed';

interface Row {
  op: string;
  bytes: number;
  medianSeconds: number;
  minSeconds: number;
  repeats: number;
  gbitPerSecond: number;
}

test('bench mpi times allGather and allReduceSum on tcp and vader and fits α + bytes/β', {
  skip,
  timeout: 120_000,
}, () => {
  const r = cli('bench', 'mpi', '--sizes', '1K,64K', '--repeats', '3', '--warmup', '1', '--json');
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as {
    processes: number;
    stepSizes: unknown[];
    transports: {
      transport: string;
      library: string;
      command: string;
      rows: Row[];
      fits: Record<string, unknown>;
    }[];
  };
  assert.equal(s.processes, 2);
  assert.deepEqual(s.stepSizes, [], '--sizes replaces the step sizes');
  assert.deepEqual(
    s.transports.map((t) => t.transport),
    ['tcp', 'vader'],
  );
  for (const t of s.transports) {
    assert.match(t.library, /MPI/);
    assert.match(t.command, new RegExp(`--mca btl ${t.transport},self`));
    assert.deepEqual(
      t.rows.map((x) => `${x.op} ${x.bytes}`),
      ['allGather 1024', 'allGather 65536', 'allReduceSum 1024', 'allReduceSum 65536'],
    );
    for (const x of t.rows) {
      assert.equal(x.repeats, 3);
      assert.ok(x.minSeconds > 0 && x.minSeconds <= x.medianSeconds, JSON.stringify(x));
      assert.ok(Math.abs(x.gbitPerSecond - (x.bytes * 8) / x.medianSeconds / 1e9) < 1e-9 * x.gbitPerSecond);
    }
    assert.deepEqual(Object.keys(t.fits), ['allGather', 'allReduceSum']);
  }
});

test('bench mpi: bad flags give one sentence naming the flag', () => {
  const sizes = cli('bench', 'mpi', '--sizes', '1K,6');
  assert.equal(sizes.status, 2);
  assert.match(sizes.stderr, /`--sizes`\. Expected .*multiple of 4.*Received: 1K,6\./);
  const transports = cli('bench', 'mpi', '--transports', 'tcp,ib');
  assert.equal(transports.status, 2);
  assert.match(transports.stderr, /`--transports`\. Expected .*tcp, vader\. Received: tcp,ib\./);
  const processes = cli('bench', 'mpi', '--processes', '1');
  assert.equal(processes.status, 2);
  assert.match(processes.stderr, /`--processes`/);
});
