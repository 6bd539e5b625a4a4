/**
 * The dashboard's result sections over all runs: linear-probe test top-1 per run, robustness tables
 * and curves, sweep plots. Each marks runs from different datasets.
 */
import type { RunRow } from './api.js';
import { appendDatasetNote, getJson, h, pct, section } from './dom.js';
import { barChart, linePlot, METHOD_COLORS } from './plot.js';

interface Robustness {
  cleanAccuracy: number;
  accuracy: Record<string, number[]>;
  severities: number[];
  meanCorruptionError: number;
  testImages: number;
  /** Expected calibration error of the probe (15 bins): clean, and the mean over corruptions per severity (newer files). */
  cleanCalibrationError?: number;
  meanCalibrationErrorBySeverity?: number[];
}

interface Sweep {
  id: string;
  vary: string;
  values: string[];
  /** testAccuracy is null for a dataset without a test split (validation only). */
  runs: { value: string; testAccuracy: number | null; validationAccuracy: number }[];
}

/** `colorOf`: each run's colour, the same as in the curves. */
export async function renderRobustness(all: RunRow[], colorOf: (id: string) => string): Promise<void> {
  const s = section('robustness', 'Robustness: linear-probe top-1 (%) under corruptions', true);
  const runs = all.filter((r) => r.hasRobustness);
  if (runs.length === 0) {
    s.append(h('p', { class: 'muted' }, 'No robustness.json yet: run `npx supcon robustness --run DIR`.'));
    return;
  }
  appendDatasetNote(s, runs);
  const series = [];
  for (const r of runs) {
    const detail = await getJson<{ robustness?: Robustness }>(`/api/run?id=${encodeURIComponent(r.id)}`);
    const rb = detail.robustness;
    if (!rb) continue;
    const rows = Object.entries(rb.accuracy).map(([name, acc]) =>
      h('tr', {}, h('td', {}, name), ...acc.map((a) => h('td', {}, pct(a)))),
    );
    const ece = rb.meanCalibrationErrorBySeverity;
    if (ece)
      rows.push(
        h('tr', { 'data-ece': r.id }, h('td', {}, 'mean ECE %'), ...ece.map((e) => h('td', {}, pct(e)))),
      );
    const cleanEce =
      rb.cleanCalibrationError === undefined ? '' : `, clean ECE ${pct(rb.cleanCalibrationError)} %`;
    s.append(
      h(
        'h3',
        {},
        `${r.id} (${r.method ?? '?'}): clean ${pct(rb.cleanAccuracy)} %, mean corruption error ${pct(rb.meanCorruptionError)} %${cleanEce}, ${rb.testImages} test images`,
      ),
      h(
        'table',
        { 'data-robustness': r.id },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, 'corruption'), ...rb.severities.map((v) => h('th', {}, `severity ${v}`))),
        ),
        h('tbody', {}, ...rows),
      ),
    );
    const mean = rb.severities.map((sev, k) => {
      const vals = Object.values(rb.accuracy).map((a) => a[k]!);
      return [sev, vals.reduce((a, b) => a + b, 0) / vals.length] as [number, number];
    });
    series.push({
      name: r.id.slice(-16),
      points: [[0, rb.cleanAccuracy] as [number, number], ...mean],
      color: colorOf(r.id),
      dots: true,
    });
  }
  s.append(
    linePlot(series, {
      title: 'mean top-1 over corruptions against severity (0 = clean)',
      xLabel: 'severity',
      yLabel: 'top-1',
      yRange: [0, 1],
      integerX: true,
    }),
  );
}

export function renderComparison(all: RunRow[]): void {
  const s = section('compare', 'Comparison: linear-probe test top-1 per run');
  const done = all.filter((r) => r.testAccuracy !== undefined);
  if (done.length === 0) {
    s.append(
      h('p', { class: 'muted' }, 'No evaluated run yet: `npx supcon linear --run DIR` adds test top-1.'),
    );
    return;
  }
  const order = ['supcon', 'simclr', 'ce'];
  done.sort(
    (a, b) =>
      order.indexOf(a.method ?? '') - order.indexOf(b.method ?? '') || b.testAccuracy! - a.testAccuracy!,
  );
  appendDatasetNote(s, done);
  s.append(
    barChart(
      done.map((r) => ({
        label: `${r.id} (${r.method ?? '?'})`,
        value: r.testAccuracy!,
        color: METHOD_COLORS[r.method ?? ''] ?? '#7f7f7f',
      })),
      { title: 'test top-1 (%); red SupCon, blue SimCLR, green CE', yLabel: 'top-1' },
    ),
  );
}

export async function renderSweeps(): Promise<void> {
  const { sweeps } = await getJson<{ sweeps: Sweep[] }>('/api/sweeps');
  const s = section('sweeps', `Sweeps (${sweeps.length})`, true);
  if (sweeps.length === 0) {
    s.append(
      h(
        'p',
        { class: 'muted' },
        'No sweep.json yet: `npx supcon sweep --vary temperature=0.05,0.1,0.5 --out runs/tau`.',
      ),
    );
    return;
  }
  for (const sw of sweeps) {
    const ticks = sw.runs.map((r, k) => ({ at: k, label: r.value }));
    const plot = linePlot(
      [
        ...(sw.runs.some((r) => r.testAccuracy === null)
          ? []
          : [
              {
                name: 'test',
                points: sw.runs.map((r, k): [number, number] => [k, r.testAccuracy ?? 0]),
                color: '#d62728',
                dots: true,
              },
            ]),
        {
          name: 'validation',
          points: sw.runs.map((r, k) => [k, r.validationAccuracy]),
          color: '#1f77b4',
          dots: true,
        },
      ],
      {
        title: `${sw.id}: linear-probe top-1 against ${sw.vary}`,
        xLabel: sw.vary,
        yLabel: 'top-1',
        xTicks: ticks,
      },
    );
    plot.dataset['sweep'] = sw.id;
    s.append(plot);
  }
}
