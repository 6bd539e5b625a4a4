/**
 * Data-parallel `supcon train` over MPI end to end on a slice of Fashion-MNIST (2 ranks, cpu backend,
 * a 784→32 MLP): `train --processes 2` (the mpirun wrapper) and `mpirun -np 2 … supcon train` give the
 * same bit-identical ranks and summary, and a normal run folder; bad flags give one clear sentence and
 * a non-zero exit code. Ctrl-C and --resume: train-distributed-signals-cli.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { localMpirun } from '@supcon/node';
import { bin, cli, mpiSkip, tinyMpiRun } from './helpers.js';

const skip = mpiSkip;

const dir = mkdtempSync(join(tmpdir(), 'supcon-dp-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** One epoch of 32 steps (1024 images, batch 32), no kNN monitor: a few seconds on 2 ranks. */
const RUN = [...tinyMpiRun(dir, 1024), '--backend', 'cpu', '--checkpoint-every', '1'];

interface Summary {
  iterations: number;
  fingerprints: string[];
  processes: number;
  transport: string;
  interrupted: boolean;
}

function assertCleanError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
}

test('train-distributed: bad flags give one clear sentence', () => {
  assertCleanError(cli('train-distributed', '--processes', '0'), /`--processes`.*>= 1.*Received: 0/);
  assertCleanError(
    cli('train-distributed', '--no-prefetch'),
    /Flag `--no-prefetch` does not apply with several MPI ranks: each rank augments its own shard/,
  );
  assertCleanError(
    cli('train', '--processes', '2', '--joint-probe'),
    /Flag `--joint-probe` does not apply with several MPI ranks: the data-parallel trainer has no joint probe yet/,
  );
  assertCleanError(
    cli('train', '--processes', '4', '--batch-size', '2', '--out', join(dir, 'r')),
    /argument `processes`.*at most the batch size \(2\).*Received: processes=4/,
  );
  assert.ok(!existsSync(join(dir, 'r')), 'nothing written for a rejected run');
  const r = spawnSync(process.execPath, [bin, 'train', '--processes', '2', '--out', join(dir, 'm')], {
    encoding: 'utf8',
    env: { ...process.env, SUPCON_MPI_ADDON: '/nonexistent/supcon_mpi.node' },
  });
  assertCleanError(
    r,
    /^supcon: The MPI addon .* could not be loaded .*apt-get install -y openmpi-bin libopenmpi-dev/,
  );
});

test('train --processes 2 and mpirun -np 2 supcon train: the same bit-identical ranks and run folder', {
  skip,
  timeout: 240_000,
}, () => {
  const out = join(dir, 'wrapped');
  const train = cli('train', '--processes', '2', ...RUN, '--out', out, '--json');
  assert.equal(train.status, 0, train.stderr);
  const summary = JSON.parse(train.stdout) as Summary;
  assert.equal(summary.processes, 2);
  assert.equal(summary.transport, 'mpi');
  assert.equal(summary.iterations, 32);
  assert.equal(summary.fingerprints.length, 2);
  assert.equal(summary.fingerprints[0], summary.fingerprints[1]);
  const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l.includes('"step"'));
  assert.equal(steps.length, 32);
  for (const f of ['config.json', 'checkpoint.bin', 'encoder/model.json'])
    assert.ok(existsSync(join(out, f)), `${f} is in the run folder`);
  // The run report's record of what started the run: the user's command line, not the ranks'.
  const recorded = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { commandLine: string[] };
  assert.deepEqual(recorded.commandLine.slice(0, 4), ['supcon', 'train', '--processes', '2']);

  // The same run started by the launcher itself: rank 0 alone prints the summary.
  const direct = join(dir, 'direct');
  const launch = localMpirun({
    processes: 2,
    threads: 1,
    timeoutSeconds: 120,
    command: [process.execPath, bin, 'train', ...RUN, '--out', direct, '--json'],
  });
  const r = spawnSync(launch.file, launch.args, { env: launch.env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  assert.deepEqual((JSON.parse(lines[0]!) as Summary).fingerprints, summary.fingerprints);
});

// bf16 over MPI: every rank sets the precision, the ranks stay bit-identical.
const bf16Skip = await (async () => {
  if (skip) return skip;
  try {
    const native = (await import('@supcon/native')) as {
      bf16Supported(): boolean;
      nativeLoadError(): string | undefined;
    };
    const why = native.nativeLoadError();
    if (why) return `the native engine does not load: ${why}`;
    return native.bf16Supported() ? false : 'this CPU has neither avx512_bf16 nor AMX: bf16 cannot run here';
  } catch (error) {
    return `the native engine does not load: ${String(error)}`;
  }
})();

// Its own folder: registered after the top-level await above, this test can start after the file's
// `after` hook has removed `dir` (the runner may finish the tests registered before the await first).
test('train --processes 2 in bf16 on the native engine', { skip: bf16Skip, timeout: 180_000 }, () => {
  const own = mkdtempSync(join(tmpdir(), 'supcon-dp-bf16-'));
  try {
    const out = join(own, 'bf16');
    const flags = [...tinyMpiRun(own, 1024), '--backend', 'native', '--checkpoint-every', '1'];
    const train = cli('train', '--processes', '2', ...flags, '--precision', 'bf16', '--out', out, '--json');
    assert.equal(train.status, 0, train.stderr);
    const result = JSON.parse(train.stdout) as Summary & { precision: string };
    assert.equal(result.precision, 'bf16');
    assert.equal(result.fingerprints[0], result.fingerprints[1]);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { precision: string };
    assert.equal(config.precision, 'bf16');
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
});
