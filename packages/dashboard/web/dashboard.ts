/**
 * The dashboard page: the runs table with each run's hyperparameters, the loss and accuracy curves
 * of the ticked runs overlaid (live while they train, over Server-Sent Events), a comparison of test
 * top-1 across runs, robustness tables and sweep plots. Reads only the JSON API of the dashboard
 * server; the comparison logic is in compare.ts.
 */
import {
  assignColors,
  datasetNote,
  knnSeries,
  liveMode,
  lossSeries,
  type MetricRecord,
  requestedRuns,
  shortNumber,
} from './compare.js';
import { barChart, linePlot, METHOD_COLORS } from './plot.js';

interface RunRow {
  id: string;
  method?: string;
  dataset?: string;
  encoder?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  temperature?: number;
  precision?: string;
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

/**
 * Live unless in screenshot mode (`supcon dashboard --static`, `?static=1`, `?live=0`): an open event
 * stream keeps the network busy, so headless `--dump-dom` and `--virtual-time-budget` never finish.
 */
const live = liveMode(location.search, document.body.dataset['static'] === 'true');
/** `?report=1`: POST what the loss plot shows after every redraw (the browser test's live check). */
const report = new URLSearchParams(location.search).get('report') === '1';
/** Live streams at most: a browser opens six HTTP/1.1 connections per host and the API needs some. */
const MAX_STREAMS = 4;

const state: {
  runs: RunRow[];
  /** The ticked runs, in the order they were ticked: their curves are overlaid. */
  selected: string[];
  records: Map<string, MetricRecord[]>;
  sources: Map<string, EventSource>;
  colors: Map<string, string>;
  drawPending: boolean;
} = { runs: [], selected: [], records: new Map(), sources: new Map(), colors: new Map(), drawPending: false };

const colorOf = (id: string) => state.colors.get(id) ?? '#7f7f7f';
const rowOf = (id: string) => state.runs.find((r) => r.id === id) ?? { id };

/** A visible note above a chart whose runs come from different datasets (nothing when they agree). */
function appendDatasetNote(s: HTMLElement, runs: { id: string; dataset?: string }[]): void {
  const note = datasetNote(runs);
  if (note) s.append(h('p', { class: 'note', 'data-note': 'datasets' }, note));
}

function renderRunsTable(): void {
  const s = section('runs', `Runs (${state.runs.length})`, true);
  if (state.runs.length === 0) {
    s.append(
      h('p', { class: 'muted' }, 'No run folders yet: train one with `npx supcon train --out runs/NAME`.'),
    );
    return;
  }
  const cols = [
    'compare',
    'run',
    'method',
    'dataset',
    'encoder',
    'precision',
    'batch',
    'lr',
    'τ',
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
    compare: 'tick runs to overlay their curves; the swatch is the colour of the run in every chart',
    lr: 'peak learning rate (train.lr in config.json)',
    τ: 'temperature of the contrastive loss (none for cross-entropy)',
    batch: 'images per step',
    epochs: 'epochs done / planned',
    'mCE vs baseline':
      'mCE: corruption error relative to the baseline run (sum over severities, mean over corruptions); below 1 is more robust',
    'corruption error %': 'absolute mean corruption error: mean of 1 − top-1 over corruptions and severities',
  };
  const body = h('tbody');
  for (const r of state.runs) {
    const ticked = state.selected.includes(r.id);
    const box = h('input', {
      type: 'checkbox',
      'data-compare': r.id,
      'aria-label': `compare ${r.id}`,
      ...(ticked ? { checked: '' } : {}),
    });
    box.addEventListener('click', (e) => e.stopPropagation());
    box.addEventListener('change', () => {
      const rest = state.selected.filter((id) => id !== r.id);
      void setSelection(box.checked ? [...rest, r.id] : rest);
    });
    const tr = h(
      'tr',
      { 'data-run': r.id, ...(ticked ? { class: 'selected' } : {}) },
      h('td', {}, box, h('span', { class: 'swatch', style: `background:${colorOf(r.id)}` })),
      h('td', {}, r.id),
      h('td', {}, r.method ?? ''),
      h('td', {}, r.dataset ?? ''),
      h('td', {}, r.encoder ?? ''),
      h('td', {}, r.precision ?? ''),
      h('td', {}, r.batchSize !== undefined ? String(r.batchSize) : ''),
      h('td', {}, shortNumber(r.lr)),
      h('td', {}, shortNumber(r.temperature)),
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
    // A click on the row shows that run alone; the checkbox adds it to (or removes it from) the overlay.
    tr.addEventListener('click', () => void setSelection([r.id]));
    body.append(tr);
  }
  s.append(
    h(
      'table',
      { class: 'runs' },
      h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', titles[c] ? { title: titles[c] } : {}, c)))),
      body,
    ),
  );
}

function renderCurves(): void {
  state.drawPending = false;
  const runs = state.selected.map((id) => ({ id, color: colorOf(id), records: state.records.get(id) ?? [] }));
  const what = runs.length === 1 ? runs[0]!.id : `${runs.length} runs`;
  const loss = section('loss', `Training loss: ${what}`);
  const acc = section('accuracy', `kNN accuracy on validation: ${what}`);
  if (runs.length === 0) {
    for (const s of [loss, acc])
      s.append(h('p', { class: 'muted' }, 'Tick runs in the table to see their curves, overlaid.'));
    return;
  }
  const rows = state.selected.map(rowOf);
  appendDatasetNote(loss, rows);
  loss.append(
    linePlot(lossSeries(runs), { title: 'loss', xLabel: 'iteration', yLabel: 'loss', integerX: true }),
  );
  const steps = runs.flatMap((r) => r.records.filter((x) => x.type === 'step'));
  const last = runs.length === 1 ? steps.at(-1) : undefined;
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
        run: state.selected.join(' '),
        steps: steps.length,
        lastLoss: steps.at(-1)?.loss,
        plotted: Number(loss.querySelector('svg')?.dataset['points'] ?? 0),
      }),
    });
  appendDatasetNote(acc, rows);
  acc.append(
    linePlot(knnSeries(runs), {
      title: 'kNN top-1 (validation) per epoch',
      xLabel: 'epoch',
      yLabel: 'top-1',
      integerX: true,
    }),
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
  appendDatasetNote(s, runs);
  const series = [];
  for (const r of runs) {
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

/** Fetches a ticked run's metrics and, when live, follows what it appends (while it stays ticked). */
async function loadRun(id: string): Promise<void> {
  const q = encodeURIComponent(id);
  const { records, bytes } = await getJson<{ records: MetricRecord[]; bytes: number }>(
    `/api/metrics?id=${q}`,
  );
  if (!state.selected.includes(id)) return;
  state.records.set(id, records);
  if (!live || state.sources.has(id) || state.sources.size >= MAX_STREAMS) return;
  const source = new EventSource(`/api/events?id=${q}&offset=${bytes}`);
  source.onmessage = (e: MessageEvent<string>) => {
    state.records.get(id)?.push(JSON.parse(e.data) as MetricRecord);
    scheduleCurves();
  };
  // The file shrank (a resumed run dropped records): read it again from the start.
  source.addEventListener('reset', () => {
    source.close();
    state.sources.delete(id);
    void loadRun(id).then(renderCurves);
  });
  state.sources.set(id, source);
}

/** Ticks exactly `ids` and draws their curves once every new one is loaded. */
async function setSelection(ids: string[]): Promise<void> {
  state.selected = ids;
  for (const [id, source] of state.sources)
    if (!ids.includes(id)) {
      source.close();
      state.sources.delete(id);
    }
  for (const id of state.records.keys()) if (!ids.includes(id)) state.records.delete(id);
  for (const tr of document.querySelectorAll<HTMLElement>('#runs tr[data-run]')) {
    const on = ids.includes(tr.dataset['run'] ?? '');
    tr.classList.toggle('selected', on);
    const box = tr.querySelector<HTMLInputElement>('input[data-compare]');
    if (box) {
      box.checked = on;
      box.toggleAttribute('checked', on); // so a DOM dump shows the ticks too
    }
  }
  await Promise.all(ids.filter((id) => !state.records.has(id)).map(loadRun));
  if (state.selected === ids) renderCurves();
}

async function refreshRuns(): Promise<void> {
  const { runs } = await getJson<{ runs: RunRow[] }>('/api/runs');
  state.runs = runs;
  state.colors = assignColors(
    state.colors,
    runs.map((r) => r.id),
  );
  renderRunsTable();
}

async function main(): Promise<void> {
  document.getElementById('app')!.replaceChildren();
  await refreshRuns();
  renderComparison();
  section('loss', 'Training loss');
  section('accuracy', 'kNN accuracy');
  await Promise.all([renderRobustness(), renderSweeps()]);
  // `?run=a&run=b` ticks those runs; by default the newest one.
  const requested = requestedRuns(
    location.search,
    state.runs.map((r) => r.id),
  );
  const newest = [...state.runs].sort((a, b) => b.updated.localeCompare(a.updated))[0];
  await setSelection(requested.length > 0 ? requested : newest ? [newest.id] : []);
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
