/**
 * robustness.json with and without the calibration fields (files written before them still load):
 * the means per severity, mCE and relative mCE against a baseline of the old format, and the report's robustness
 * table (mean top-1 and mean ECE per severity, "not recorded" for an old file).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type RobustnessResult,
  relativeCorruptionErrors,
  relativeMeanCorruptionError,
  severityMeans,
  writeRunReport,
} from '@supcon/node';
import { robustnessResult } from './robustness-fixture.js';

/** A robustness.json as written before ECE was recorded. */
const old = robustnessResult();
const current: RobustnessResult = {
  ...old,
  accuracy: { contrast: [0.7, 0.4], jpeg: [0.8, 0.6] },
  meanAccuracyBySeverity: [0.75, 0.5],
  calibrationBins: 15,
  cleanCalibrationError: 0.02,
  calibrationError: { contrast: [0.05, 0.3], jpeg: [0.03, 0.1] },
  meanCalibrationErrorBySeverity: [0.04, 0.2],
};

test('means per severity: top-1 from any file, ECE only from files that recorded it', () => {
  assert.deepEqual(severityMeans(old), {
    severities: [1, 5],
    accuracy: [0.825, 0.65],
    calibrationError: undefined,
  });
  const now = severityMeans(current);
  assert.deepEqual(now.accuracy, current.meanAccuracyBySeverity);
  assert.ok(
    Math.abs(now.calibrationError![0]! - 0.04) < 1e-15 && Math.abs(now.calibrationError![1]! - 0.2) < 1e-15,
  );
  // A baseline written before the calibration fields compares as before.
  const { mCE } = relativeCorruptionErrors(current, old);
  assert.ok(Math.abs(mCE - ((0.3 + 0.6) / (0.2 + 0.5) + (0.2 + 0.4) / (0.15 + 0.2)) / 2) < 1e-12);
});

test("relative mCE: corruption cost over the baseline's, per corruption both measured, severities aligned", () => {
  // Costs (clean − corrupted top-1, summed over severities): contrast 0.7 vs 0.5, jpeg 0.4 vs 0.15.
  const expected = (0.7 / 0.5 + 0.4 / 0.15) / 2;
  assert.ok(Math.abs(relativeMeanCorruptionError(current, old) - expected) < 1e-12);
  // The baseline's severities in another order, and a corruption only the baseline has: the same.
  const reordered: RobustnessResult = {
    ...old,
    severities: [5, 1],
    accuracy: { contrast: [0.5, 0.8], jpeg: [0.8, 0.85], brightness: [0.1, 0.2] },
  };
  assert.ok(Math.abs(relativeMeanCorruptionError(current, reordered) - expected) < 1e-12);
});

test("the report's robustness table: mean top-1 and ECE per severity, old files without ECE", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-report-robust-'));
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ train: { method: 'ce', epochs: 1 } }));
    writeFileSync(
      join(dir, 'summary.json'),
      JSON.stringify({ cleanTestAccuracy: 0.9, meanCorruptionError: 0.3 }),
    );
    writeFileSync(join(dir, 'robustness.json'), JSON.stringify(current));
    let page = readFileSync((await writeRunReport(dir)).file, 'utf8');
    assert.match(page, /<th>severity<\/th><th>mean top-1<\/th><th>mean ECE \(15 bins\)<\/th>/);
    assert.match(page, /<tr><td>clean<\/td><td>90\.00%<\/td><td>2\.00%<\/td><\/tr>/);
    assert.match(page, /<tr><td>1<\/td><td>75\.00%<\/td><td>4\.00%<\/td><\/tr>/);
    assert.match(page, /<tr><td>5<\/td><td>50\.00%<\/td><td>20\.00%<\/td><\/tr>/);
    assert.doesNotMatch(page, /written before the calibration error/);

    writeFileSync(join(dir, 'robustness.json'), JSON.stringify(old));
    const written = await writeRunReport(dir);
    page = readFileSync(written.file, 'utf8');
    assert.match(page, /<tr><td>1<\/td><td>82\.50%<\/td><td>not recorded<\/td><\/tr>/);
    assert.match(page, /<tr><td>5<\/td><td>65\.00%<\/td><td>not recorded<\/td><\/tr>/);
    assert.ok(
      written.missing.some((m) => /written before the calibration error.*supcon robustness --run/.test(m)),
    );

    rmSync(join(dir, 'robustness.json'));
    page = readFileSync((await writeRunReport(dir)).file, 'utf8');
    assert.doesNotMatch(page, /Robustness under corruptions/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
