/**
 * `supcon train --sync-bn` end to end on a slice of Fashion-MNIST (a 784→32 MLP with BatchNorm): over
 * 2 MPI ranks (`--processes 2`) the summary says `syncBatchNorm: true` and the ranks stay bit-identical,
 * on the cpu backend and, where it loads, the native engine; in one process the flag is accepted as a
 * no-op and recorded in config.json. The math (2 ranks = one process on the whole batch) is tested in
 * packages/node/test/sync-batch-norm-mpi.test.ts and packages/supcon/test/sync-batch-norm.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, mpiSkip, tinyMpiRun } from './helpers.js';

const skip = mpiSkip;
const nativeSkip = await (async () => {
  if (skip) return skip;
  try {
    const native = (await import('@supcon/native')) as { nativeLoadError(): string | undefined };
    const why = native.nativeLoadError();
    return why ? `the native engine does not load: ${why}` : false;
  } catch (error) {
    return `the native engine does not load: ${String(error)}`;
  }
})();

const dir = mkdtempSync(join(tmpdir(), 'supcon-syncbn-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** One epoch of 8 steps (256 images, batch 32), no kNN monitor. */
const RUN = [...tinyMpiRun(dir, 256), '--sync-bn'];

const configOf = (out: string) =>
  JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { train: { syncBatchNorm?: boolean } };

for (const backend of ['cpu', 'native'] as const) {
  test(`train --processes 2 --sync-bn on ${backend}: recorded, the ranks bit-identical`, {
    skip: backend === 'cpu' ? skip : nativeSkip,
    timeout: 180_000,
  }, () => {
    const out = join(dir, `dp-${backend}`);
    const r = cli('train', '--processes', '2', ...RUN, '--backend', backend, '--out', out, '--json');
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as {
      syncBatchNorm: boolean;
      fingerprints: string[];
      iterations: number;
    };
    assert.equal(summary.syncBatchNorm, true);
    assert.equal(summary.iterations, 8);
    assert.equal(summary.fingerprints.length, 2);
    assert.equal(summary.fingerprints[0], summary.fingerprints[1]);
    assert.equal(configOf(out).train.syncBatchNorm, true);
    const recorded = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(recorded['syncBatchNorm'], true);
  });
}

test('train --sync-bn in one process is accepted (a no-op) and recorded', { skip, timeout: 120_000 }, () => {
  const out = join(dir, 'one');
  const r = cli('train', ...RUN, '--backend', 'cpu', '--out', out, '--quiet');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(configOf(out).train.syncBatchNorm, true);
});
