/**
 * The box plot's numbers (supcon/plot): quantiles interpolated between ranks as numpy's default
 * (`np.percentile(x, [25, 50, 75])`, values worked out by hand below), the median agreeing with the
 * evaluation's `median`, whiskers at the extremes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median } from 'supcon';
import { boxStats, quantile } from 'supcon/plot';

test('quartiles as numpy.percentile (linear between ranks), whiskers at min and max', () => {
  // np.percentile([1, 2, 3, 4], [25, 50, 75]) = [1.75, 2.5, 3.25]
  assert.deepEqual(boxStats([4, 1, 3, 2]), { min: 1, q1: 1.75, median: 2.5, q3: 3.25, max: 4 });
  // np.percentile([90.1, 88.0, 91.5, 89.2, 90.7], [25, 50, 75]) = [89.2, 90.1, 90.7]
  assert.deepEqual(boxStats([90.1, 88.0, 91.5, 89.2, 90.7]), {
    min: 88,
    q1: 89.2,
    median: 90.1,
    q3: 90.7,
    max: 91.5,
  });
  // 8 points (a sensitivity box): rank 0.25·7 = 1.75 → 2 + 0.75·(3 − 2)
  const eight = [1, 2, 3, 5, 8, 13, 21, 34];
  assert.equal(quantile(eight, 0.25), 2.75);
  assert.equal(quantile(eight, 0.75), 15);
  assert.deepEqual(boxStats([7]), { min: 7, q1: 7, median: 7, q3: 7, max: 7 });
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test('the median is the evaluation median for odd and even counts', () => {
  for (const xs of [
    [3, 1, 2],
    [5, 1, 4, 2],
    [0.9, 0.91, 0.905, 0.899, 0.93, 0.92],
  ])
    assert.equal(boxStats(xs).median, median(xs));
});
