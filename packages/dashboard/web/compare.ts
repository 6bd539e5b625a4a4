/**
 * The dashboard's comparison logic, DOM-free so Node tests can run it: run colours, which runs are
 * selected and live, the curves of one or several runs, and the note when runs come from different
 * datasets (a loss or an accuracy on Fashion-MNIST says nothing about one on CIFAR-10).
 */
import type { MetricRecord } from './api.js';
import { downsample, PALETTE, type Series } from './plot.js';

export type { MetricRecord } from './api.js';

export interface RunInfo {
  id: string;
  dataset?: string;
}

/**
 * Colours for `ids` that never change once given: runs already in `known` keep theirs, new ones take
 * the first palette colour no listed run uses (in the order given), so the same folder gets the same
 * colours on every load and a run appearing later does not repaint the others. Past ten runs colours
 * repeat. Returns a new map.
 */
export function assignColors(
  known: ReadonlyMap<string, string>,
  ids: readonly string[],
): Map<string, string> {
  const out = new Map(known);
  const used = new Set(out.values());
  for (const id of ids) {
    if (out.has(id)) continue;
    const free = PALETTE.find((c) => !used.has(c)) ?? PALETTE[out.size % PALETTE.length]!;
    out.set(id, free);
    used.add(free);
  }
  return out;
}

/**
 * Whether the page follows runs live (Server-Sent Events, table refresh). Off in screenshot mode:
 * the server's `--static` (`data-static` on the body), `?static=1`, or the older `?live=0`.
 */
export function liveMode(search: string, serverStatic: boolean): boolean {
  const q = new URLSearchParams(search);
  const on = (v: string | null) => v !== null && v !== '0' && v !== 'false';
  return !serverStatic && !on(q.get('static')) && q.get('live') !== '0';
}

/** The runs `?run=ID` asks for (repeat it to compare: `?run=a&run=b`), those that exist, in order. */
export function requestedRuns(search: string, ids: readonly string[]): string[] {
  const wanted = new URLSearchParams(search).getAll('run');
  return [...new Set(wanted)].filter((id) => ids.includes(id));
}

/**
 * One sentence when `runs` come from more than one dataset (a run without a recorded dataset counts
 * as "unknown"), naming each dataset's runs; undefined when they agree.
 */
export function datasetNote(runs: readonly RunInfo[]): string | undefined {
  const by = new Map<string, string[]>();
  for (const r of runs) {
    const name = r.dataset ?? 'unknown';
    by.set(name, [...(by.get(name) ?? []), r.id]);
  }
  if (by.size < 2) return undefined;
  const parts = [...by].map(([name, ids]) => `${name} (${ids.join(', ')})`);
  return `These runs use different datasets, ${parts.join('; ')}: their losses and accuracies are not comparable.`;
}

export interface RunCurves {
  id: string;
  color: string;
  records: readonly MetricRecord[];
}

/**
 * The loss curves. One run: every step (averaged into at most 500 points), faint, under the mean of
 * each epoch. Several: each run's steps in its own colour, named by run id, for the legend.
 */
export function lossSeries(runs: readonly RunCurves[]): Series[] {
  const steps = (r: RunCurves, max: number) =>
    downsample(
      r.records.filter((x) => x.type === 'step').map((x) => [x.iteration, x.loss]),
      max,
    );
  if (runs.length === 1) {
    const r = runs[0]!;
    return [
      { name: 'step', points: steps(r, 500), color: r.color, width: 1, opacity: 0.35 },
      {
        name: 'epoch mean',
        points: r.records.filter((x) => x.type === 'epoch').map((x) => [x.iteration, x.loss]),
        color: r.color,
        dots: true,
        width: 2,
      },
    ];
  }
  return runs.map((r) => ({ name: r.id, points: steps(r, 300), color: r.color, width: 1.5 }));
}

/** kNN top-1 on validation after each epoch (numbered from 1), one series per run. */
export function knnSeries(runs: readonly RunCurves[]): Series[] {
  return runs.map((r) => ({
    name: runs.length === 1 ? 'kNN top-1' : r.id,
    points: r.records
      .filter((x) => x.type === 'epoch' && x.knnAccuracy !== undefined)
      .map((x) => [x.epoch + 1, x.knnAccuracy!]),
    color: r.color,
    dots: true,
  }));
}

/** A hyperparameter as the table shows it: whole numbers as they are, else 3 significant digits, an exponent when tiny. */
export function shortNumber(x: number | undefined): string {
  if (x === undefined) return '';
  if (Number.isInteger(x)) return String(x);
  if (x !== 0 && Math.abs(x) < 1e-3) return Number(x.toPrecision(3)).toExponential();
  return String(+x.toPrecision(3));
}
