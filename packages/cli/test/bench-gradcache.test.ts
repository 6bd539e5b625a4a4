/** `supcon bench gradcache` on a tiny batch: the cached gradient equals the chunked taped forward's. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));

test('bench gradcache reports memory, time and a cached gradient equal to the chunked forward', () => {
  const r = spawnSync(
    process.execPath,
    [bin, 'bench', 'gradcache', '--batch-size', '6', '--views', '2', '--chunk', '4', '--json'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as {
    chunkRows: number;
    direct: { peakRssMiB: number; seconds: number; loss: number };
    cached: { peakRssMiB: number; seconds: number; loss: number };
    ghost: { loss: number };
    cachedVsGhost: number;
    cachedVsDirect: number;
  };
  assert.equal(s.chunkRows, 4);
  assert.ok(s.direct.peakRssMiB > 0 && s.cached.peakRssMiB > 0 && s.cached.seconds > 0);
  assert.ok(Math.abs(s.cached.loss - s.ghost.loss) < 1e-5 * Math.abs(s.ghost.loss));
  assert.ok(s.cachedVsGhost < 1e-4, `cached vs chunked taped forward: ${s.cachedVsGhost}`);
  // BatchNorm over chunks of 4 differs from the whole batch: the two comparisons are not the same.
  assert.ok(s.cachedVsDirect > s.cachedVsGhost);
});
