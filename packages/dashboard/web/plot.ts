/**
 * Plots as plain SVG (lines, bars) and canvas (scatter): no plotting library, nothing from a CDN.
 * Every plot carries `data-*` attributes with what it drew, so a headless browser test can check it.
 * The palette, the method colours and the legend's row flow are `supcon/plot`'s, shared with the
 * report's charts.
 */
import { legendFlow, PALETTE } from 'supcon/plot';

const SVG = 'http://www.w3.org/2000/svg';

export { METHOD_COLORS, PALETTE } from 'supcon/plot';

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
  /** Dots at each point instead of a line only (few points, e.g. per epoch). */
  dots?: boolean;
  width?: number;
  /** Stroke opacity (default 1), e.g. raw steps under their epoch means. */
  opacity?: number;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Category ticks: x positions with labels (sweep values). */
  xTicks?: { at: number; label: string }[];
  /** Fixed y range (e.g. [0, 1] for accuracies); default: the data's, padded. */
  yRange?: [number, number];
  /** x counts something whole (epochs, iterations, severities): ticks only at integers. */
  integerX?: boolean;
}

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * About `count` round tick values covering [lo, hi]; with `integer`, whole numbers only (an axis of
 * epochs has no tick at 0.5, even when it spans one or two).
 *
 * @example niceTicks(0, 2, 5, true); // [0, 1, 2]
 */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!(hi > lo)) return [integer ? Math.round(lo) : lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const steps = [1, 2, 2.5, 5, 10].map((m) => m * mag).filter((s) => !integer || Number.isInteger(s));
  const step = Math.max(integer ? 1 : 0, steps.find((s) => s >= raw) ?? 10 * mag);
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

const fmt = (v: number) =>
  Math.abs(v) >= 1e6 ? v.toExponential(1) : Number.isInteger(v) ? String(v) : String(+v.toPrecision(4));

/** Averages `points` into at most `max` buckets (long runs have thousands of steps). */
export function downsample(points: [number, number][], max = 500): [number, number][] {
  if (points.length <= max) return points;
  const out: [number, number][] = [];
  const size = points.length / max;
  for (let b = 0; b < max; b++) {
    const from = Math.floor(b * size);
    const to = Math.floor((b + 1) * size);
    let sx = 0;
    let sy = 0;
    for (let i = from; i < to; i++) {
      sx += points[i]![0];
      sy += points[i]![1];
    }
    out.push([sx / (to - from), sy / (to - from)]);
  }
  return out;
}

/** Legend entries longer than this keep their end (run ids differ at the end: `tau/temperature=0.5`). */
const LEGEND_CHARS = 26;
const legendText = (name: string) =>
  name.length > LEGEND_CHARS ? `…${name.slice(-(LEGEND_CHARS - 1))}` : name;

/**
 * Where each legend entry goes: left to right in rows above the plot area (where it cannot hide a
 * curve), a new row when the next entry would pass `right`. Widths are estimated from the text
 * (about 6.5 px a character at 11 px), so this needs no DOM.
 */
export function legendLayout(names: string[], left: number, right: number): { x: number; row: number }[] {
  return legendFlow(
    names.map((name) => 22 + 6.5 * legendText(name).length),
    left,
    right,
  );
}

/** A line plot with axes, ticks and a legend. */
export function linePlot(series: Series[], o: PlotOptions): SVGSVGElement {
  const W = o.width ?? 520;
  const m = { l: 52, r: 12, t: 38, b: 36 };
  const legend = legendLayout(
    series.map((s) => s.name),
    m.l,
    W - m.r,
  );
  const rows = Math.max(1, ...legend.map((p) => p.row + 1));
  m.t += 14 * (rows - 1);
  const H = (o.height ?? 260) + 14 * (rows - 1);
  const svg = el('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: 'plot' });
  svg.dataset['title'] = o.title;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  svg.dataset['points'] = String(all.length);
  svg.append(el('text', { x: W / 2, y: 15, 'text-anchor': 'middle', 'font-weight': 600 }, o.title));
  if (all.length === 0) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: '#888' }, 'no data yet'));
    return svg;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = o.yRange ?? [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  if (!o.yRange) {
    const pad = 0.05 * (y1 - y0);
    [y0, y1] = [y0 - pad, y1 + pad];
  }
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const axis = { stroke: '#999', 'stroke-width': 1 };
  svg.append(el('line', { x1: m.l, y1: H - m.b, x2: W - m.r, y2: H - m.b, ...axis }));
  svg.append(el('line', { x1: m.l, y1: m.t, x2: m.l, y2: H - m.b, ...axis }));
  for (const v of niceTicks(y0, y1)) {
    svg.append(el('line', { x1: m.l, y1: sy(v), x2: W - m.r, y2: sy(v), stroke: '#eee' }));
    svg.append(el('text', { x: m.l - 4, y: sy(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  }
  const xt =
    o.xTicks ??
    niceTicks(x0, x1, 5, o.integerX)
      .filter((v) => v >= x0 && v <= x1)
      .map((v) => ({ at: v, label: fmt(v) }));
  for (const t of xt)
    svg.append(el('text', { x: sx(t.at), y: H - m.b + 14, 'text-anchor': 'middle' }, t.label));
  svg.append(el('text', { x: (m.l + W - m.r) / 2, y: H - 4, 'text-anchor': 'middle' }, o.xLabel));
  svg.append(
    el(
      'text',
      {
        x: 12,
        y: (m.t + H - m.b) / 2,
        transform: `rotate(-90 12 ${(m.t + H - m.b) / 2})`,
        'text-anchor': 'middle',
      },
      o.yLabel,
    ),
  );
  series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    // Every series gets its legend entry, a faded one when it has nothing to draw yet.
    const at = legend[i]!;
    const ly = 21 + 14 * at.row;
    const key = el('g', { class: 'legend', ...(pts.length === 0 ? { opacity: 0.45 } : {}) });
    key.dataset['legend'] = s.name;
    key.append(
      el('title', {}, pts.length === 0 ? `${s.name} (no data yet)` : s.name),
      el('rect', { x: at.x, y: ly, width: 10, height: 10, fill: s.color }),
      el('text', { x: at.x + 14, y: ly + 9 }, legendText(s.name)),
    );
    svg.append(key);
    if (pts.length === 0) return;
    const d = pts.map(([x, y], k) => `${k ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    const path = el('path', {
      d,
      fill: 'none',
      stroke: s.color,
      'stroke-width': s.width ?? 1.5,
      ...(s.opacity !== undefined ? { 'stroke-opacity': s.opacity } : {}),
    });
    path.dataset['series'] = s.name;
    svg.append(path);
    if (s.dots || pts.length === 1)
      for (const [x, y] of pts) svg.append(el('circle', { cx: sx(x), cy: sy(y), r: 3, fill: s.color }));
  });
  return svg;
}

export interface Bar {
  label: string;
  value: number;
  color: string;
}

/** Horizontal bars, labelled on the left, values printed at their ends (e.g. test top-1 per run). */
export function barChart(
  bars: Bar[],
  o: { title: string; yLabel: string; width?: number; height?: number },
): SVGSVGElement {
  const W = o.width ?? 520;
  const m = { l: 190, r: 48, t: 24, b: 28 };
  const row = 22;
  const H = o.height ?? m.t + m.b + row * Math.max(1, bars.length);
  const svg = el('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: 'plot' });
  svg.dataset['title'] = o.title;
  svg.dataset['bars'] = String(bars.length);
  svg.append(el('text', { x: W / 2, y: 15, 'text-anchor': 'middle', 'font-weight': 600 }, o.title));
  const top = Math.max(1, ...bars.map((b) => b.value));
  const sx = (v: number) => m.l + (v / top) * (W - m.l - m.r);
  for (const v of niceTicks(0, top)) {
    svg.append(el('line', { x1: sx(v), y1: m.t, x2: sx(v), y2: H - m.b, stroke: '#eee' }));
    svg.append(el('text', { x: sx(v), y: H - m.b + 13, 'text-anchor': 'middle' }, fmt(v)));
  }
  svg.append(el('text', { x: (m.l + W - m.r) / 2, y: H - 3, 'text-anchor': 'middle' }, o.yLabel));
  bars.forEach((b, i) => {
    const y = m.t + i * row + 3;
    const rect = el('rect', { x: m.l, y, width: sx(b.value) - m.l, height: row - 6, fill: b.color });
    rect.dataset['label'] = b.label;
    rect.dataset['value'] = String(b.value);
    svg.append(rect);
    const label = b.label.length > 30 ? `…${b.label.slice(-29)}` : b.label;
    svg.append(el('text', { x: m.l - 4, y: y + row / 2, 'text-anchor': 'end' }, label));
    svg.append(el('text', { x: sx(b.value) + 3, y: y + row / 2 }, (100 * b.value).toFixed(1)));
  });
  return svg;
}

/** Draws 2-D points coloured by class on `canvas`, scaled to fit, with a class legend. */
export function scatter(
  canvas: HTMLCanvasElement,
  xy: Float32Array,
  labels: ArrayLike<number>,
  classes: string[],
): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width: W, height: H } = canvas;
  ctx.clearRect(0, 0, W, H);
  const n = labels.length;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, xy[2 * i]!);
    x1 = Math.max(x1, xy[2 * i]!);
    y0 = Math.min(y0, xy[2 * i + 1]!);
    y1 = Math.max(y1, xy[2 * i + 1]!);
  }
  const legend = 110;
  const pad = 10;
  const s = Math.min((W - legend - 2 * pad) / (x1 - x0 || 1), (H - 2 * pad) / (y1 - y0 || 1));
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = PALETTE[labels[i]! % PALETTE.length]!;
    ctx.beginPath();
    ctx.arc(pad + (xy[2 * i]! - x0) * s, pad + (xy[2 * i + 1]! - y0) * s, 2.5, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.font = '11px system-ui, sans-serif';
  classes.forEach((name, c) => {
    ctx.fillStyle = PALETTE[c % PALETTE.length]!;
    ctx.fillRect(W - legend, 8 + 15 * c, 10, 10);
    ctx.fillStyle = '#333';
    ctx.fillText(name, W - legend + 14, 17 + 15 * c);
  });
  canvas.dataset['points'] = String(n);
}
