/**
 * Expected calibration error against numpy (fixtures from `reference/make_calibration_fixture.py`:
 * random logits and labels, confidences on every bin edge), hand-checkable cases, and the errors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  CALIBRATION_BINS,
  calibration,
  calibrationFromConfidence,
  expectedCalibrationError,
  softmaxConfidence,
} from 'supcon';

interface BinStat {
  count: number;
  accuracy: number | null;
  confidence: number | null;
}
interface Case {
  name: string;
  kind: 'logits' | 'confidence';
  bins: number;
  classes?: number;
  logits?: number[];
  labels?: number[];
  confidence: number[];
  correct?: boolean[];
  accuracy?: number;
  ece: number;
  maxError: number;
  binStats: BinStat[];
}

const cases = JSON.parse(
  readFileSync(new URL('../test/fixtures/calibration-cases.json', import.meta.url), 'utf8'),
) as Case[];
// The fixture rounds outputs to 12 significant digits.
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-11 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('ECE, bins and confidences equal the numpy reference', () => {
  assert.ok(cases.length >= 9);
  for (const c of cases) {
    const got =
      c.kind === 'logits'
        ? calibration(c.logits!, c.labels!, c.classes!, c.bins)
        : calibrationFromConfidence(c.confidence, c.correct!, c.bins);
    close(got.ece, c.ece, `${c.name} ece`);
    close(got.maxError, c.maxError, `${c.name} maxError`);
    assert.equal(got.bins.length, c.bins);
    for (const [m, want] of c.binStats.entries()) {
      const bin = got.bins[m]!;
      assert.equal(bin.count, want.count, `${c.name} bin ${m} count`);
      if (want.accuracy === null) assert.ok(Number.isNaN(bin.accuracy) && Number.isNaN(bin.confidence));
      else {
        close(bin.accuracy, want.accuracy, `${c.name} bin ${m} accuracy`);
        close(bin.confidence, want.confidence!, `${c.name} bin ${m} confidence`);
      }
      close(bin.lower, m / c.bins, 'lower edge');
      close(bin.upper, (m + 1) / c.bins, 'upper edge');
    }
    if (c.kind === 'logits') {
      const { confidence } = softmaxConfidence(c.logits!, c.classes!);
      for (const [i, p] of c.confidence.entries()) close(confidence[i]!, p, `${c.name} confidence ${i}`);
      close(expectedCalibrationError(c.logits!, c.labels!, c.classes!, c.bins), c.ece, c.name);
    }
  }
});

test('hand-checked cases: confident and right is 0, empty bins add nothing, one sample', () => {
  // All correct at confidence 1 (softmax of [100, 0, 0] is 1 in float64): ECE 0, all in the last bin.
  const sure = calibration([100, 0, 0, 0, 100, 0, 0, 0, 100], [0, 1, 2], 3);
  assert.equal(sure.ece, 0);
  assert.equal(sure.bins[CALIBRATION_BINS - 1]!.count, 3);
  // Two samples at 0.9 (both right) and 0.3 (wrong), 10 bins: 8 bins empty.
  // ECE = ½·|1 − 0.9| + ½·|0 − 0.3| = 0.2.
  const two = calibrationFromConfidence([0.9, 0.3], [true, false], 10);
  assert.ok(Math.abs(two.ece - 0.2) < 1e-15, String(two.ece));
  assert.equal(two.bins.filter((b) => b.count === 0).length, 8);
  assert.ok(Math.abs(two.maxError - 0.3) < 1e-15);
  // One sample: ECE = |correct − confidence|. Uniform logits over 4 classes: confidence ¼, class 0.
  assert.equal(expectedCalibrationError([2, 2, 2, 2], [0], 4), 0.75);
  assert.equal(expectedCalibrationError([2, 2, 2, 2], [3], 4), 0.25);
  // Edges: exactly 0.5 with 2 bins is in bin 0 ((0, 0.5]); 1 in the last; 0 in the first.
  const edges = calibrationFromConfidence([0.5, 1, 0], [1, 1, 0], 2);
  assert.deepEqual(
    edges.bins.map((b) => b.count),
    [2, 1],
  );
  // One bin: ECE = |accuracy − mean confidence|.
  const one = calibrationFromConfidence([0.2, 0.6, 1], [0, 1, 1], 1);
  assert.ok(Math.abs(one.ece - Math.abs(2 / 3 - 0.6)) < 1e-15);
  // Large logits do not overflow.
  assert.equal(expectedCalibrationError([1e4, -1e4, 0], [0], 3), 0);
});

test('bad input: one sentence naming the argument, the expectation and what was received', () => {
  const throwsMessage = (f: () => unknown, pattern: RegExp) =>
    assert.throws(f, (e: Error) => e.name === 'InvalidArgumentError' && pattern.test(e.message));
  throwsMessage(
    () => calibration([1, 2, 3, 4, 5], [0, 1], 3),
    /^Invalid value for argument `logits`\. Expected 2 × 3 values \(one row per label\)\. Received: logits="5 values"\.$/,
  );
  throwsMessage(
    () => calibrationFromConfidence([0.5, 0.6], [true], 15),
    /argument `correct`\. Expected one value per confidence \(2\)\. Received: correct="1 values"/,
  );
  throwsMessage(
    () => calibrationFromConfidence([0.5], [true], 0),
    /argument `bins`\. Expected an integer >= 1\. Received: bins=0\./,
  );
  throwsMessage(() => expectedCalibrationError([0, 1], [0], 2, 2.5), /`bins`.*bins=2\.5/);
  throwsMessage(
    () => calibration([0, 1], [2], 2),
    /`labels`\. Expected integers in 0\.\.1\. Received: labels="2 at index 0"/,
  );
  throwsMessage(
    () => calibrationFromConfidence([1.5], [true]),
    /`confidence`\. Expected probabilities in \[0, 1\]/,
  );
  throwsMessage(() => calibrationFromConfidence([], []), /`confidence`\. Expected at least one sample/);
  throwsMessage(() => softmaxConfidence([1, 2, 3], 2), /`logits`\. Expected a multiple of classes=2/);
});
