/** fitLatencyBandwidth: the line α + bytes/β it is fitted to comes back; bad input is refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitLatencyBandwidth } from '../src/index.js';

test('fitLatencyBandwidth recovers α and β of exact points, and weighs small sizes as much as large', () => {
  const alpha = 30e-6;
  const beta = 1.5e9; // bytes/s
  const points = [1024, 65_536, 1 << 20, 16 << 20].map((bytes) => ({
    bytes,
    medianSeconds: alpha + bytes / beta,
  }));
  const fit = fitLatencyBandwidth(points);
  assert.ok(Math.abs(fit.latencySeconds - alpha) < 1e-9 * alpha * 1e3, `${fit.latencySeconds}`);
  assert.ok(Math.abs(fit.bytesPerSecond - beta) < 1e-6 * beta, `${fit.bytesPerSecond}`);
  // 10% noise on the largest size moves the latency little: the 1 KiB point still dominates it.
  const noisy = points.map((p, i) => (i === 3 ? { ...p, medianSeconds: p.medianSeconds * 1.1 } : p));
  assert.ok(Math.abs(fitLatencyBandwidth(noisy).latencySeconds - alpha) < 0.1 * alpha);
});

test('fitLatencyBandwidth needs two distinct sizes', () => {
  assert.throws(
    () =>
      fitLatencyBandwidth([
        { bytes: 8, medianSeconds: 1 },
        { bytes: 8, medianSeconds: 2 },
      ]),
    /argument `points`\. Expected at least two distinct sizes/,
  );
});
