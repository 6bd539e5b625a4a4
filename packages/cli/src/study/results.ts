/**
 * A study's numbers from its finished runs: one record per run (read from its summary.json), the
 * mean ± sample standard deviation over seeds of every read-out at every (method, x value), the x
 * value each method selects on the validation split, a Markdown table and the figure (PNG).
 */
import { existsSync, readFileSync } from 'node:fs';
import { barPlot, closeUpAxis, linePlot, png, runFiles, type Series } from '@supcon/node';
import { METHOD_LABEL, type Method, type Study } from './studies.js';

/** One finished run of a study: where it stands in the figure and what its summary.json holds. */
export interface StudyRun {
  sweep: string;
  method: Method;
  x: string;
  seed: number;
  run: string;
  /** Linear-probe test top-1 (null: the dataset has no test split). */
  testAccuracy: number | null;
  validationAccuracy: number;
  /** Cross-entropy runs: the model's own softmax classifier, end to end. */
  classifierTestAccuracy?: number;
  classifierValidationAccuracy?: number;
  knnTestTop1?: number;
  trainSeconds: number;
}

/** Mean and sample standard deviation (n − 1; null for one value) of a read-out over seeds. */
export interface Stat {
  mean: number;
  std: number | null;
  values: number[];
}

export function stat(values: readonly number[]): Stat {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, std, values: [...values] };
}

/** One row of the summary: a method read out one way at one x value, over its seeds. */
export interface Group {
  method: Method;
  /** `probe`: linear probe on frozen features; `classifier`: cross-entropy's own head, end to end. */
  readout: 'probe' | 'classifier';
  x: string;
  seeds: number[];
  test: Stat | null;
  validation: Stat;
  knnTest: Stat | null;
  trainSeconds: Stat;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** The study record of a finished run, from its summary.json. */
export function readRun(where: Omit<StudyRun, keyof Summary>): StudyRun {
  const file = runFiles(where.run).summary;
  const s = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const knn = (s['knn'] as { test?: { top1?: unknown } } | undefined)?.test?.top1;
  const run: StudyRun = {
    ...where,
    testAccuracy: num(s['testAccuracy']) ?? null,
    validationAccuracy: num(s['validationAccuracy']) ?? Number.NaN,
    trainSeconds: num(s['trainSeconds']) ?? Number.NaN,
  };
  const own = num(s['classifierTestAccuracy']);
  const ownValidation = num(s['classifierValidationAccuracy']);
  if (own !== undefined) run.classifierTestAccuracy = own;
  if (ownValidation !== undefined) run.classifierValidationAccuracy = ownValidation;
  if (num(knn) !== undefined) run.knnTestTop1 = knn as number;
  return run;
}
type Summary = Pick<
  StudyRun,
  | 'testAccuracy'
  | 'validationAccuracy'
  | 'classifierTestAccuracy'
  | 'classifierValidationAccuracy'
  | 'knnTestTop1'
  | 'trainSeconds'
>;

const allNumbers = (xs: (number | null | undefined)[]): xs is number[] =>
  xs.length > 0 && xs.every((x) => typeof x === 'number' && Number.isFinite(x));

/** The rows: per (method, x) in the runs' order the probe, and cross-entropy's own classifier where recorded. */
export function groupRuns(runs: readonly StudyRun[]): Group[] {
  const keys = [...new Set(runs.map((r) => `${r.method}\u0000${r.x}`))];
  return keys.flatMap((key) => {
    const rs = runs.filter((r) => `${r.method}\u0000${r.x}` === key);
    const first = rs[0]!;
    const base = {
      method: first.method,
      x: first.x,
      seeds: rs.map((r) => r.seed),
      trainSeconds: stat(rs.map((r) => r.trainSeconds)),
    };
    const test = rs.map((r) => r.testAccuracy);
    const knn = rs.map((r) => r.knnTestTop1);
    const groups: Group[] = [
      {
        ...base,
        readout: 'probe',
        test: allNumbers(test) ? stat(test) : null,
        validation: stat(rs.map((r) => r.validationAccuracy)),
        knnTest: allNumbers(knn) ? stat(knn) : null,
      },
    ];
    const own = rs.map((r) => r.classifierTestAccuracy);
    const ownValidation = rs.map((r) => r.classifierValidationAccuracy);
    if (allNumbers(own) && allNumbers(ownValidation))
      groups.push({
        ...base,
        readout: 'classifier',
        test: stat(own),
        validation: stat(ownValidation),
        knnTest: null,
      });
    return groups;
  });
}

/** Per method (linear probe), the x value with the best mean validation top-1: the model selection. */
export function selectOnValidation(groups: readonly Group[]): Partial<Record<Method, string>> {
  const best: Partial<Record<Method, Group>> = {};
  for (const g of groups)
    if (
      g.readout === 'probe' &&
      (best[g.method] === undefined || g.validation.mean > best[g.method]!.validation.mean)
    )
      best[g.method] = g;
  return Object.fromEntries(Object.entries(best).map(([m, g]) => [m, g.x]));
}

export const pct = (x: number) => (100 * x).toFixed(2);
/** `90.75 ± 0.22` (percent), or the mean alone for one seed. */
export const pm = (s: Stat | null, scale = 100, digits = 2) =>
  s === null
    ? 'n/a'
    : `${(scale * s.mean).toFixed(digits)}${s.std === null ? '' : ` ± ${(scale * s.std).toFixed(digits)}`}`;

export function rowLabel(g: Pick<Group, 'method' | 'readout'>): string {
  return `${METHOD_LABEL[g.method]}, ${g.readout === 'probe' ? 'linear probe' : 'own classifier (end to end)'}`;
}

/** The summary table (Markdown) of the accuracy read-outs. */
export function accuracyTable(study: Study, _name: string, groups: readonly Group[]): string {
  // A study of methods (table2, robustness, vit) has no x column: its x values are the methods.
  const byX = study.xLabel !== 'method';
  const head = [
    ...(byX ? [study.xLabel] : []),
    'read-out',
    'seeds',
    'test top-1 mean ± std',
    'per seed',
    'validation top-1',
    'kNN test top-1',
    'training s per run',
  ];
  const rows = groups.map((g) => [
    ...(byX ? [g.x] : []),
    rowLabel(g),
    String(g.seeds.length),
    `**${pm(g.test)}**`,
    g.test ? g.test.values.map(pct).join(', ') : 'n/a',
    pm(g.validation),
    g.knnTest ? pm(g.knnTest) : '',
    Number.isFinite(g.trainSeconds.mean) ? g.trainSeconds.mean.toFixed(0) : 'n/a',
  ]);
  return markdown(head, rows);
}

export function markdown(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/**
 * The study's figure: Table 2 and the recipe A/B as bars of mean test top-1; a knob study as mean test (and validation)
 * top-1 against the x values, one tick per value (temperatures and batch sizes are not linear
 * scales); for epochs each tick also carries the training seconds per run of each method.
 */
export async function accuracyFigure(study: Study, name: string, groups: readonly Group[], file: string) {
  // Methods and recipe arms are categories, not a scale: bars, not a line between them.
  if (study.xLabel === 'method' || study.xLabel === 'recipe') {
    const bars = groups
      .filter((g) => g.test !== null)
      .map((g, i) => ({
        // Short labels: the bar chart's label column is narrow.
        label:
          study.xLabel === 'recipe'
            ? `${g.x} (${pm(g.test)})`
            : `${METHOD_LABEL[g.method]}, ${g.readout === 'probe' ? 'probe' : 'own head'} (${pm(g.test)})`,
        value: 100 * g.test!.mean,
        color: COLOURS[i % COLOURS.length]!,
      }));
    const axis = closeUpAxis(bars.map((b) => b.value));
    await png(barPlot('Test top-1, mean over seeds', 'test top-1 %', bars, axis), file);
    return;
  }
  const xs = [...new Set(groups.map((g) => g.x))];
  const rows = [...new Set(groups.map((g) => `${g.method}:${g.readout}`))];
  const series: Series[] = rows.flatMap((key, i) => {
    const of = groups.filter((g) => `${g.method}:${g.readout}` === key);
    const label = rowLabel(of[0]!);
    const colour = COLOURS[i % COLOURS.length]!;
    const at = (pick: (g: Group) => Stat | null) =>
      of.flatMap((g): [number, number][] => {
        const s = pick(g);
        return s ? [[xs.indexOf(g.x), 100 * s.mean]] : [];
      });
    const test: Series[] = of.some((g) => g.test)
      ? [{ name: `${label}, test`, points: at((g) => g.test), color: colour }]
      : [];
    // Validation only where a single method is drawn: with two, four curves of one colour pair crowd it.
    const validation: Series[] =
      rows.length === 1
        ? [{ name: `${label}, validation`, points: at((g) => g.validation), color: '#ff7f0e' }]
        : [];
    return [...test, ...validation];
  });
  const seconds = (x: string) =>
    groups
      .filter((g) => g.x === x && g.readout === 'probe')
      .map((g) => g.trainSeconds.mean.toFixed(0))
      .join(' / ');
  const withSeconds = name === 'epochs';
  const ticks = xs.map((x, k) => ({ at: k, label: withSeconds ? `${x} (${seconds(x)} s)` : x }));
  const methods = [
    ...new Set(groups.filter((g) => g.readout === 'probe').map((g) => METHOD_LABEL[g.method])),
  ];
  const xLabel = withSeconds
    ? `${study.xLabel} (training seconds per run: ${methods.join(' / ')})`
    : study.xLabel;
  const seeds = Math.max(...groups.map((g) => g.seeds.length));
  await png(
    linePlot(
      `Top-1 against ${study.xLabel}, mean of ${seeds} seed${seeds === 1 ? '' : 's'}`,
      xLabel,
      'top-1 %',
      series,
      ticks,
    ),
    file,
  );
}
