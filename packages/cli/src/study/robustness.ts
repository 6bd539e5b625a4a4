/**
 * The robustness study's evaluations (the paper's Fig. 3): `supcon robustness` on every
 * cross-entropy run, then on the SupCon run of the same seed with `--baseline` that cross-entropy
 * run (relative mCE), each in a child process; then mean ± std over seeds of the mCE, the mean
 * corruption error, and top-1 and ECE per severity, as a table and two figures. The test set is what
 * the corruptions are applied to; nothing is selected on it (the probe's weight decay is chosen on
 * the validation split, as in `supcon linear`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  linePlot,
  png,
  type RobustnessResult,
  relativeMeanCorruptionError,
  runFiles,
  severityMeans,
} from '@supcon/node';
import { CORRUPTIONS } from 'supcon';
import { markdown, pm, type Stat, stat } from './results.js';
import { METHOD_LABEL, type Method } from './studies.js';

/** What every evaluation of the study measures (the flags it passes to `supcon robustness`). */
export interface RobustnessSettings {
  corruptions: readonly string[];
  severities: readonly number[];
  /** The first N test images (default all). */
  limit?: number;
}

/** One `supcon robustness` call: a run and, for SupCon, the cross-entropy run of its seed. */
export interface RobustnessJob {
  method: Method;
  seed: number;
  run: string;
  baseline?: string;
}

/** Per seed, the cross-entropy run first (it is the baseline), then SupCon against it. */
export function robustnessJobs(
  runs: readonly { method: Method; seed: number; run: string }[],
): RobustnessJob[] {
  const seeds = [...new Set(runs.map((r) => r.seed))];
  return seeds.flatMap((seed) => {
    const ce = runs.find((r) => r.seed === seed && r.method === 'ce');
    const supcon = runs.find((r) => r.seed === seed && r.method === 'supcon');
    if (!ce || !supcon) return [];
    return [
      { method: 'ce', seed, run: ce.run },
      { method: 'supcon', seed, run: supcon.run, baseline: ce.run },
    ];
  });
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

/**
 * Whether `job` was evaluated with these settings already (its summary.json records the test images,
 * corruptions, severities and seed; a SupCon run also its mCE against this baseline). Without
 * `--robustness-limit` the whole test set is asked for: the images the probe's kNN read.
 */
export function robustnessDone(job: RobustnessJob, settings: RobustnessSettings): boolean {
  const files = runFiles(job.run);
  if (!existsSync(files.robustness) || !existsSync(files.summary)) return false;
  const summary = readJson(files.summary);
  const measured = summary['robustness'] as
    | { testImages?: number; corruptions?: string[]; severities?: number[]; seed?: number }
    | undefined;
  if (!measured) return false;
  const sameSet = (a: readonly unknown[] = [], b: readonly unknown[] = []) =>
    a.length === b.length && a.every((x) => b.includes(x));
  const knnImages = (summary['knn'] as { test?: { images?: number } } | undefined)?.test?.images;
  // The images asked for: the first N, or the whole test set (the images the probe's kNN read).
  const want =
    settings.limit === undefined ? knnImages : Math.min(settings.limit, knnImages ?? settings.limit);
  const images = want === undefined || measured.testImages === want;
  const same =
    images &&
    sameSet(measured.corruptions, settings.corruptions) &&
    JSON.stringify(measured.severities) === JSON.stringify(settings.severities) &&
    (measured.seed ?? 0) === 0;
  if (!same) return false;
  if (job.baseline === undefined) return true;
  const baseline = summary['mCEBaseline'];
  return (
    typeof summary['mCE'] === 'number' &&
    typeof baseline === 'string' &&
    resolve(baseline) === resolve(job.baseline)
  );
}

/** The `supcon robustness` command line of `job`. */
export function robustnessArgs(job: RobustnessJob, settings: RobustnessSettings): string[] {
  return [
    'robustness',
    '--run',
    job.run,
    ...(job.baseline !== undefined ? ['--baseline', job.baseline] : []),
    '--corruptions',
    CORRUPTIONS.every((c) => settings.corruptions.includes(c)) ? 'all' : settings.corruptions.join(','),
    '--severities',
    settings.severities.join(','),
    ...(settings.limit !== undefined ? ['--limit', String(settings.limit)] : []),
    '--json',
    '--quiet',
  ];
}

/** One evaluated run: its robustness.json's means and, for SupCon, the mCE relative to cross-entropy. */
export interface RobustnessRecord {
  method: Method;
  seed: number;
  run: string;
  cleanAccuracy: number;
  meanCorruptionError: number;
  /** SupCon: Σ_s E / Σ_s E_ce averaged over corruptions, against the cross-entropy run of the same seed. */
  mCE?: number;
  /** SupCon: the same with each model's clean error subtracted first (Hendrycks & Dietterich). */
  relativeMCE?: number;
  severities: number[];
  meanAccuracyBySeverity: number[];
  cleanCalibrationError?: number;
  meanCalibrationErrorBySeverity?: number[];
}

const readResult = (run: string) => readJson(runFiles(run).robustness) as unknown as RobustnessResult;

export function readRobustness(job: RobustnessJob): RobustnessRecord {
  const files = runFiles(job.run);
  const result = readResult(job.run);
  const means = severityMeans(result);
  const record: RobustnessRecord = {
    method: job.method,
    seed: job.seed,
    run: job.run,
    cleanAccuracy: result.cleanAccuracy,
    meanCorruptionError: result.meanCorruptionError,
    severities: means.severities,
    meanAccuracyBySeverity: means.accuracy,
  };
  const mCE = readJson(files.summary)['mCE'];
  if (job.baseline !== undefined && typeof mCE === 'number') record.mCE = mCE;
  if (job.baseline !== undefined)
    record.relativeMCE = relativeMeanCorruptionError(result, readResult(job.baseline));
  if (result.cleanCalibrationError !== undefined) record.cleanCalibrationError = result.cleanCalibrationError;
  if (means.calibrationError) record.meanCalibrationErrorBySeverity = means.calibrationError;
  return record;
}

/** Mean ± std over seeds of one method's robustness; severity 0 is the clean test set. */
export interface RobustnessGroup {
  method: Method;
  seeds: number[];
  clean: Stat;
  meanCorruptionError: Stat;
  mCE: Stat | null;
  relativeMCE: Stat | null;
  bySeverity: { severity: number; top1: Stat; ece: Stat | null }[];
}

export function groupRobustness(records: readonly RobustnessRecord[]): RobustnessGroup[] {
  return (['supcon', 'ce'] as const).flatMap((method): RobustnessGroup[] => {
    const rs = records.filter((r) => r.method === method);
    if (rs.length === 0) return [];
    const mCE = rs.map((r) => r.mCE);
    const relative = rs.map((r) => r.relativeMCE);
    const eceAt = (k: number) => {
      const values = rs.map((r) =>
        k === 0 ? r.cleanCalibrationError : r.meanCalibrationErrorBySeverity?.[k - 1],
      );
      return values.every((v) => typeof v === 'number') ? stat(values as number[]) : null;
    };
    const severities = rs[0]!.severities;
    return [
      {
        method,
        seeds: rs.map((r) => r.seed),
        clean: stat(rs.map((r) => r.cleanAccuracy)),
        meanCorruptionError: stat(rs.map((r) => r.meanCorruptionError)),
        mCE: mCE.every((v) => typeof v === 'number') ? stat(mCE as number[]) : null,
        relativeMCE: relative.every((v) => typeof v === 'number') ? stat(relative as number[]) : null,
        bySeverity: [0, ...severities].map((severity, k) => ({
          severity,
          top1: stat(rs.map((r) => (k === 0 ? r.cleanAccuracy : r.meanAccuracyBySeverity[k - 1]!))),
          ece: eceAt(k),
        })),
      },
    ];
  });
}

/** Two Markdown tables: the corruption errors per method, then top-1 and ECE per severity. */
export function robustnessTable(groups: readonly RobustnessGroup[]): string {
  const errors = markdown(
    [
      'method (linear probe)',
      'seeds',
      'clean test top-1',
      'mean corruption error %',
      'mCE relative to cross-entropy (same seed)',
      'relative mCE',
    ],
    groups.map((g) => [
      METHOD_LABEL[g.method],
      String(g.seeds.length),
      pm(g.clean),
      pm(g.meanCorruptionError),
      g.mCE ? `**${pm(g.mCE, 1, 3)}**` : '1 (the baseline)',
      g.relativeMCE ? pm(g.relativeMCE, 1, 3) : '1',
    ]),
  );
  const severities = groups[0]?.bySeverity.map((s) => s.severity) ?? [];
  const perSeverity = markdown(
    [
      'severity',
      ...groups.map((g) => `${METHOD_LABEL[g.method]} mean top-1 %`),
      ...groups.map((g) => `${METHOD_LABEL[g.method]} mean ECE %`),
    ],
    severities.map((s, k) => [
      s === 0 ? 'clean' : String(s),
      ...groups.map((g) => pm(g.bySeverity[k]!.top1)),
      ...groups.map((g) => pm(g.bySeverity[k]!.ece)),
    ]),
  );
  return `${errors}\n\n${perSeverity}`;
}

const COLOUR: Record<Method, string> = { supcon: '#1f77b4', ce: '#d62728', simclr: '#2ca02c' };

/** findings-robustness-top1.png (mean top-1 against severity) and findings-robustness-ece.png (mean ECE). */
export async function robustnessFigures(groups: readonly RobustnessGroup[], dir: string): Promise<string[]> {
  const severities = groups[0]?.bySeverity.map((s) => s.severity) ?? [];
  const ticks = severities.map((s, k) => ({ at: k, label: s === 0 ? 'clean' : String(s) }));
  const seeds = Math.max(0, ...groups.map((g) => g.seeds.length));
  const curve = (pick: (s: RobustnessGroup['bySeverity'][number]) => Stat | null) =>
    groups.map((g) => ({
      name: METHOD_LABEL[g.method],
      color: COLOUR[g.method],
      points: g.bySeverity.flatMap((s, k): [number, number][] => {
        const v = pick(s);
        return v ? [[k, 100 * v.mean]] : [];
      }),
    }));
  const files = [join(dir, 'findings-robustness-top1.png'), join(dir, 'findings-robustness-ece.png')];
  await png(
    linePlot(
      `Mean top-1 over corruptions against severity (${seeds} seeds)`,
      'corruption severity',
      'top-1 %',
      curve((s) => s.top1),
      ticks,
    ),
    files[0]!,
  );
  await png(
    linePlot(
      `Expected calibration error (15 bins) against severity (${seeds} seeds)`,
      'corruption severity',
      'mean ECE %',
      curve((s) => s.ece),
      ticks,
    ),
    files[1]!,
  );
  return files;
}
