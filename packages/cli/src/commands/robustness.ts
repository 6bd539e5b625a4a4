/**
 * `supcon robustness --run DIR`: linear-probe accuracy and calibration error (ECE) of a run's frozen
 * encoder on the test set under corruptions (noise, blur, contrast, brightness, pixelate, JPEG) at
 * five severities; with `--baseline DIR2`, the corruption errors relative to another run (the
 * paper's mCE comparison).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  baselineDifferences,
  evaluateRobustness,
  loadRunEncoder,
  type RobustnessResult,
  relativeCorruptionErrors,
  runFiles,
  updateSummary,
  writeFileDurable,
} from '@supcon/node';
import { CORRUPTIONS, parseCorruptions } from 'supcon';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { formatTime } from './train-output.js';

function parseSeverities(raw: string): number[] {
  const values = raw.split(',').map((s) => Number(s.trim()));
  if (!values.every((v) => Number.isInteger(v) && v >= 1 && v <= 5))
    throw new CliError(
      `Invalid value for \`--severities\`. Expected a comma list of integers from 1 to 5. Received: ${raw}.`,
    );
  return values;
}

function readResult(runDir: string, flag: string): RobustnessResult {
  const file = runFiles(runDir).robustness;
  if (!existsSync(file))
    throw new CliError(
      `Invalid value for \`${flag}\`. Expected a run folder holding ${basename(file)} (run \`supcon robustness --run ${runDir}\` first). Received: ${runDir}.`,
    );
  return JSON.parse(readFileSync(file, 'utf8')) as RobustnessResult;
}

/** The baseline's dataset: recorded in its robustness.json, or (older files) read from its config.json. */
function withDataset(baseline: RobustnessResult, dir: string): RobustnessResult {
  if (baseline.dataset !== undefined) return baseline;
  const config = runFiles(dir).config;
  if (!existsSync(config)) return baseline;
  try {
    const dataset = (JSON.parse(readFileSync(config, 'utf8')) as { data?: { dataset?: unknown } }).data
      ?.dataset;
    return typeof dataset === 'string' ? { ...baseline, dataset } : baseline;
  } catch {
    return baseline;
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`.padStart(5);

/**
 * Progress of the corrupted passes on stderr with the time left (from the rate so far): on a
 * terminal one line rewritten before each pass, elsewhere (logs, CI) a line per finished corruption.
 */
function progressReporter(
  quiet: boolean,
  corruptions: readonly string[],
  severities: number,
): { update: (done: number, total: number, label: string) => void; end: () => void } {
  const tty = process.stderr.isTTY === true;
  let started: number | undefined;
  const times = (done: number, total: number) => {
    const elapsed = (performance.now() - (started ?? performance.now())) / 1000;
    const left = done > 0 ? (elapsed / done) * (total - done) : Number.NaN;
    return `${formatTime(elapsed)} elapsed, ${formatTime(left)} left`;
  };
  return {
    update(done, total, label) {
      if (quiet) return;
      started ??= performance.now();
      if (tty) {
        const now = done < total ? ` ${label}` : '';
        process.stderr.write(`\r\x1b[Krobustness ${done}/${total}${now}, ${times(done, total)}`);
      } else if (done > 0 && done % severities === 0) {
        const finished = corruptions[done / severities - 1];
        process.stderr.write(`robustness ${done}/${total} (${finished} done), ${times(done, total)}\n`);
      }
    },
    end() {
      if (!quiet && tty) process.stderr.write('\r\x1b[K');
    },
  };
}

export const robustnessCommand: Command = {
  name: 'robustness',
  summary: 'Linear-probe accuracy under corruptions (noise, blur, JPEG, ...) and mCE against a baseline run',
  help: [
    'Usage: supcon robustness --run DIR [--corruptions all|LIST] [--severities 1,2,3,4,5] [--limit N] [--baseline DIR2] [--json]',
    '',
    'Fits the linear probe on clean frozen features (as `supcon linear`), then classifies the test set',
    'corrupted at each severity. Writes DIR/robustness.json and adds cleanTestAccuracy, meanCorruptionError',
    '(absolute) and, with --baseline, mCE (relative) to DIR/summary.json, with the settings under `robustness`.',
    "robustness.json also holds the probe's expected calibration error (ECE: 15 equal-width bins of the",
    'largest softmax probability, |accuracy - confidence| weighted by bin share) clean and per corruption',
    'and severity, and per severity the mean top-1 and mean ECE over corruptions.',
    '',
    'Example: supcon robustness --run runs/ce --corruptions jpeg,contrast --severities 1,3,5 --limit 1000',
    '',
    `  --corruptions L  "all" (default) or a comma list of: ${CORRUPTIONS.join(', ')}`,
    '  --severities S   comma list of severities 1..5 (default all five)',
    '  --limit N        use the first N test images (default all)',
    '  --baseline DIR2  a run already evaluated with this command: report CE(c) = Σ_s E / Σ_s E_baseline and their mean (mCE);',
    '                   it must have been measured on the same test images (--limit), severities, seed and',
    '                   dataset, and hold every corruption asked for (its other corruptions are left out)',
    '  --epochs N       probe epochs (default: the run config)',
    '  --seed N         seed of the noise corruptions (default 0)',
    '  --quiet          no progress (default: the passes done and the time left on stderr, a line per',
    '                   corruption when stderr is not a terminal)',
    '  --backend auto|native|cpu',
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      run: { kind: 'string' },
      corruptions: { kind: 'string', default: 'all' },
      severities: { kind: 'string', default: '1,2,3,4,5' },
      limit: { kind: 'int', min: 1 },
      baseline: { kind: 'string' },
      epochs: { kind: 'int', min: 1 },
      seed: { kind: 'int', default: 0, min: 0 },
      quiet: { kind: 'boolean' },
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
    });
    const run = flags['run'] as string | undefined;
    if (run === undefined)
      throw new CliError('Flag `--run DIR` is required: the run folder written by `supcon train`.');
    const corruptions = parseCorruptions(flags['corruptions'] as string);
    const severities = parseSeverities(flags['severities'] as string);
    const baselineDir = flags['baseline'] as string | undefined;
    const baseline = baselineDir !== undefined ? readResult(baselineDir, '--baseline') : undefined;
    await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
    const progress = progressReporter(flags['quiet'] === true, corruptions, severities.length);
    const seed = flags['seed'] as number;
    const limit = flags['limit'] as number | undefined;
    const refuseBaseline = (differences: string[]) => {
      if (differences.length > 0)
        throw new CliError(
          `Invalid value for \`--baseline\`. Expected a run evaluated with the same test images, corruptions, severities and seed, so its errors compare. Received: ${baselineDir}, measured differently (${differences.join('; ')}); rerun \`supcon robustness --run ${baselineDir}\` with the same flags.`,
        );
    };
    // What can be compared before loading anything: the baseline must hold what is asked for.
    const setting = { corruptions, severities, seed };
    if (baseline)
      refuseBaseline(
        baselineDifferences(
          { ...setting, testImages: baseline.testImages },
          withDataset(baseline, baselineDir!),
        ),
      );
    const { spec, encoder, data } = await loadRunEncoder(run);
    const test = data.dataset.test;
    if (!test)
      throw new CliError(
        `Run \`${run}\` was trained on ${spec.data.dataset}, which has no test split (a folder dataset has one only with train/ and test/ folders of class folders); robustness corrupts test images, so it needs one.`,
      );
    // The test images (the first N) and the dataset are known once the run's data is loaded.
    const testImages = Math.min(limit ?? test.count, test.count);
    if (baseline)
      refuseBaseline(
        baselineDifferences(
          { ...setting, testImages, dataset: spec.data.dataset },
          withDataset(baseline, baselineDir!),
        ),
      );
    const epochs = flags['epochs'] as number | undefined;
    const result = evaluateRobustness(spec, encoder, data, {
      corruptions,
      severities,
      seed,
      ...(limit !== undefined ? { limit } : {}),
      ...(epochs !== undefined ? { probeEpochs: epochs } : {}),
      onProgress: progress.update,
    });
    progress.end();
    writeFileDurable(runFiles(run).robustness, `${JSON.stringify(result, null, 2)}\n`);
    const relative = baseline
      ? relativeCorruptionErrors(result, withDataset(baseline, baselineDir!))
      : undefined;
    // Every number with what it was measured on; an mCE of an earlier call with a baseline is removed.
    updateSummary(run, {
      cleanTestAccuracy: result.cleanAccuracy,
      meanCorruptionError: result.meanCorruptionError,
      robustness: {
        testImages: result.testImages,
        corruptions: Object.keys(result.accuracy),
        severities: result.severities,
        seed: result.seed,
      },
      mCE: relative?.mCE,
      mCEBaseline: relative ? baselineDir : undefined,
    });
    if (flags['json']) {
      console.log(JSON.stringify(relative ? { ...result, relative } : result));
      return 0;
    }
    const lines = [
      `Test top-1 (%) of the linear probe, ${result.testImages} test images, clean ${pct(result.cleanAccuracy)}`,
      `${'corruption'.padEnd(16)}${result.severities.map((s) => `   s${s}`).join('')}${relative ? '     CE' : ''}`,
    ];
    for (const [name, acc] of Object.entries(result.accuracy)) {
      const ce = relative?.perCorruption[name as keyof typeof relative.perCorruption];
      lines.push(`${name.padEnd(16)}${acc.map(pct).join('')}${ce !== undefined ? `  ${ce.toFixed(3)}` : ''}`);
    }
    lines.push(`${'mean top-1'.padEnd(16)}${result.meanAccuracyBySeverity.map(pct).join('')}`);
    lines.push(
      `${'mean ECE'.padEnd(16)}${result.meanCalibrationErrorBySeverity.map(pct).join('')}   (clean ${pct(result.cleanCalibrationError).trim()}; expected calibration error, ${result.calibrationBins} bins, %)`,
    );
    lines.push(`mean corruption error ${pct(result.meanCorruptionError)} %`);
    if (relative) {
      lines.push(
        `mCE relative to ${baselineDir}: ${relative.mCE.toFixed(3)} over ${relative.corruptions.length} corruption(s) (below 1: more robust)`,
      );
      if (relative.baselineOnly.length > 0)
        lines.push(`  (the baseline's other corruptions are left out: ${relative.baselineOnly.join(', ')})`);
    }
    console.log(lines.join('\n'));
    return 0;
  },
};
