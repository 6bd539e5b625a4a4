/**
 * The dashboard page: the runs table, the selected run's loss and accuracy curves (live while it
 * trains, over Server-Sent Events), a comparison of test top-1 across runs, robustness tables and
 * sweep plots. Reads only the JSON API of the dashboard server.
 */
import { barChart, downsample, linePlot, METHOD_COLORS, PALETTE } from './plot.js';

interface RunRow {
  id: string;
  method?: string;
  dataset?: string;
  encoder?: string;
  epochs?: number;
  status: string;
  epochsDone: number;
  iterations: number;
  latestLoss?: number;
  knnAccuracy?: number;
  validationAccuracy?: number;
  testAccuracy?: number;
  knnTestAccuracy?: number;
  knnTestK?: number;
  knnTestBank?: number;
  meanCorruptionError?: number;
  mCE?: number;
  mCEBaseline?: string;
  hasRobustness: boolean;
  updated: string;
}

interface MetricRecord {
  type: 'step' | 'epoch';
  epoch: number;
  iteration: number;
  loss: number;
  lr?: number;
  knnAccuracy?: number;
  imagesPerSecond?: number;
}

interface Robustness {
  cleanAccuracy: number;
  accuracy: Record<string, number[]>;
  severities: number[];
  meanCorruptionError: number;
  testImages: number;
}

interface Sweep {
  id: string;
  vary: string;
  values: string[];
  runs: { value: string; testAccuracy: number; validationAccuracy: number }[];
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${((await r.json()) as { error?: string }).error ?? ''}`);
  return (await r.json()) as T;
}

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

const pct = (x: number | undefined) => (x === undefined ? '' : `${(100 * x).toFixed(2)}`);
const num = (x: number | undefined, digits = 4) => (x === undefined ? '' : x.toFixed(digits));

function section(id: string, title: string, wide = false): HTMLElement {
  let s = document.getElementById(id);
  if (!s) {
    s = h('section', { id, ...(wide ? { class: 'wide' } : {}) });
    document.getElementById('app')!.append(s);
  }
  s.replaceChildren(h('h2', {}, title));
  return s;
}

const live = new URLSearchParams(location.search).get('live') !== '0';
/** `?report=1`: POST what the loss plot shows after every redraw (the browser test's live check). */
const report = new URLSearchParams(location.search).get('report') === '1';

const state: {
  runs: RunRow[];
  selected?: string;
  records: MetricRecord[];
  source?: EventSource;
  drawPending: boolean;
} = { runs: [], records: [], drawPending: false };

function renderRunsTable(): void {
  const s = section('runs', `Runs (${state.runs.length})`, true);
  if (state.runs.length === 0) {
    s.append(
      h('p', { class: 'muted' }, 'No run folders yet: train one with `npx supcon train --out runs/NAME`.'),
    );
    return;
  }
  const cols = [
    'run',
    'method',
    'dataset',
    'encoder',
    'status',
    'epochs',
    'steps',
    'latest loss',
    'kNN val %',
    'probe val %',
    'test top-1 %',
    'kNN test %',
    'mCE vs baseline',
    'corruption error %',
  ];
  const titles: Record<string, string> = {
    'mCE vs baseline':
      'mCE: corruption error relative to the baseline run (sum over severities, mean over corruptions); below 1 is more robust',
    'corruption error %': 'absolute mean corruption error: mean of 1 − top-1 over corruptions and severities',
  };
  const body = h('tbody');
  for (const r of state.runs) {
    const tr = h(
      'tr',
      { 'data-run': r.id, ...(r.id === state.selected ? { class: 'selected' } : {}) },
      h('td', {}, r.id),
      h('td', {}, r.method ?? ''),
      h('td', {}, r.dataset ?? ''),
      h('td', {}, r.encoder ?? ''),
      h('td', { class: `status-${r.status}` }, r.status),
      h('td', {}, `${r.epochsDone}${r.epochs !== undefined ? `/${r.epochs}` : ''}`),
      h('td', {}, String(r.iterations)),
      h('td', {}, num(r.latestLoss)),
      h('td', {}, pct(r.knnAccuracy)),
      h('td', {}, pct(r.validationAccuracy)),
      h('td', {}, pct(r.testAccuracy)),
      h(
        'td',
        r.knnTestK !== undefined ? { title: `k ${r.knnTestK}, bank ${r.knnTestBank} training samples` } : {},
        pct(r.knnTestAccuracy),
      ),
      h('td', r.mCEBaseline !== undefined ? { title: `baseline: ${r.mCEBaseline}` } : {}, num(r.mCE, 3)),
      h('td', {}, pct(r.meanCorruptionError)),
    );
    tr.addEventListener('click', () => void select(r.id));
    body.append(tr);
  }
  s.append(
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', titles[c] ? { title: titles[c] } : {}, c)))),
      body,
    ),
  );
}

function renderCurves(): void {
  state.drawPending = false;
  const id = state.selected ?? '';
  const steps = state.records.filter((r) => r.type === 'step');
  const epochs = state.records.filter((r) => r.type === 'epoch');
  const loss = section('loss', `Training loss: ${id}`);
  loss.append(
    linePlot(
      [
        {
          name: 'step',
          points: downsample(steps.map((r) => [r.iteration, r.loss])),
          color: '#9ecae1',
          width: 1,
        },
        {
          name: 'epoch mean',
          points: epochs.map((r) => [r.iteration, r.loss]),
          color: '#08519c',
          dots: true,
          width: 2,
        },
      ],
      { title: 'loss', xLabel: 'iteration', yLabel: 'loss' },
    ),
  );
  const last = steps.at(-1);
  if (last)
    loss.append(
      h(
        'p',
        { class: 'muted' },
        `step ${last.iteration + 1}, epoch ${last.epoch + 1}, loss ${last.loss.toFixed(4)}, lr ${num(last.lr, 5)}, ${Math.round(last.imagesPerSecond ?? 0)} images/s`,
      ),
    );
  if (report)
    void fetch('/api/client-report', {
      method: 'POST',
      body: JSON.stringify({
        page: 'dashboard',
        run: id,
        steps: steps.length,
        lastLoss: last?.loss,
        plotted: Number(loss.querySelector('svg')?.dataset['points'] ?? 0),
      }),
    });
  const acc = section('accuracy', `kNN accuracy on validation: ${id}`);
  acc.append(
    linePlot(
      [
        {
          name: 'kNN top-1',
          points: epochs.filter((r) => r.knnAccuracy !== undefined).map((r) => [r.epoch + 1, r.knnAccuracy!]),
          color: '#d62728',
          dots: true,
        },
      ],
      {
        title: 'kNN top-1 (validation) per epoch',
        xLabel: 'epoch',
        yLabel: 'top-1',
      },
    ),
  );
}

function scheduleCurves(): void {
  if (state.drawPending) return;
  state.drawPending = true;
  setTimeout(renderCurves, 200);
}

async function renderRobustness(): Promise<void> {
  const s = section('robustness', 'Robustness: linear-probe top-1 (%) under corruptions', true);
  const runs = state.runs.filter((r) => r.hasRobustness);
  if (runs.length === 0) {
    s.append(h('p', { class: 'muted' }, 'No robustness.json yet: run `npx supcon robustness --run DIR`.'));
    return;
  }
  const series = [];
  for (const [i, r] of runs.entries()) {
    const detail = await getJson<{ robustness?: Robustness }>(`/api/run?id=${encodeURIComponent(r.id)}`);
    const rb = detail.robustness;
    if (!rb) continue;
    const rows = Object.entries(rb.accuracy).map(([name, acc]) =>
      h('tr', {}, h('td', {}, name), ...acc.map((a) => h('td', {}, pct(a)))),
    );
    s.append(
      h(
        'h3',
        {},
        `${r.id} (${r.method ?? '?'}): clean ${pct(rb.cleanAccuracy)} %, mean corruption error ${pct(rb.meanCorruptionError)} %, ${rb.testImages} test images`,
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
      color: METHOD_COLORS[r.method ?? ''] ?? PALETTE[i % PALETTE.length]!,
      dots: true,
    });
  }
  s.append(
    linePlot(series, {
      title: 'mean top-1 over corruptions against severity (0 = clean)',
      xLabel: 'severity',
      yLabel: 'top-1',
      yRange: [0, 1],
    }),
  );
}

function renderComparison(): void {
  const s = section('compare', 'Comparison: linear-probe test top-1 per run');
  const done = state.runs.filter((r) => r.testAccuracy !== undefined);
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

async function renderSweeps(): Promise<void> {
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
        { name: 'test', points: sw.runs.map((r, k) => [k, r.testAccuracy]), color: '#d62728', dots: true },
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

async function select(id: string): Promise<void> {
  state.selected = id;
  state.source?.close();
  for (const tr of document.querySelectorAll('#runs tr[data-run]'))
    tr.classList.toggle('selected', (tr as HTMLElement).dataset['run'] === id);
  const q = encodeURIComponent(id);
  const { records, bytes } = await getJson<{ records: MetricRecord[]; bytes: number }>(
    `/api/metrics?id=${q}`,
  );
  if (state.selected !== id) return;
  state.records = records;
  renderCurves();
  // Live: the records appended after what we just read (`?live=0` turns it off, e.g. for --dump-dom,
  // which waits for the network to go idle).
  if (!live) return;
  const source = new EventSource(`/api/events?id=${q}&offset=${bytes}`);
  source.onmessage = (e: MessageEvent<string>) => {
    state.records.push(JSON.parse(e.data) as MetricRecord);
    scheduleCurves();
  };
  source.addEventListener('reset', () => void select(id));
  state.source = source;
}

async function refreshRuns(): Promise<void> {
  const { runs } = await getJson<{ runs: RunRow[] }>('/api/runs');
  state.runs = runs;
  renderRunsTable();
}

async function main(): Promise<void> {
  document.getElementById('app')!.replaceChildren();
  await refreshRuns();
  renderComparison();
  section('loss', 'Training loss');
  section('accuracy', 'kNN accuracy');
  await Promise.all([renderRobustness(), renderSweeps()]);
  const requested = new URLSearchParams(location.search).get('run');
  const newest = [...state.runs].sort((a, b) => b.updated.localeCompare(a.updated))[0];
  const first = state.runs.find((r) => r.id === requested) ?? newest;
  if (first) await select(first.id);
  document.body.dataset['ready'] = 'true';
  if (live)
    setInterval(() => {
      void refreshRuns().then(renderComparison);
    }, 5000);
}

main().catch((error: unknown) => {
  document
    .getElementById('app')!
    .replaceChildren(h('section', { class: 'wide', id: 'error' }, `Error: ${(error as Error).message}`));
});
