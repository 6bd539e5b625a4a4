/**
 * The dashboard page: the runs table with each run's hyperparameters, the loss and accuracy curves
 * of the ticked runs overlaid (live while they train, over Server-Sent Events), a comparison of test
 * top-1 across runs, robustness tables and sweep plots. Reads only the JSON API of the dashboard
 * server; the comparison logic is in compare.ts.
 */

import type { MetricRecord, RunRow } from './api.js';
import { assignColors, knnSeries, liveMode, lossSeries, requestedRuns, shortNumber } from './compare.js';
import { appendDatasetNote, getJson, h, num, pct, section } from './dom.js';
import { linePlot } from './plot.js';
import { renderComparison, renderRobustness, renderSweeps } from './results.js';

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
  renderComparison(state.runs);
  section('loss', 'Training loss');
  section('accuracy', 'kNN accuracy');
  await Promise.all([renderRobustness(state.runs, colorOf), renderSweeps()]);
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
      void refreshRuns().then(() => renderComparison(state.runs));
    }, 5000);
}

main().catch((error: unknown) => {
  document
    .getElementById('app')!
    .replaceChildren(h('section', { class: 'wide', id: 'error' }, `Error: ${(error as Error).message}`));
});
