/**
 * The report's charts as SVG strings (rasterised by sharp in `svgToPng`): a line chart, a horizontal
 * bar chart, box plots and a 2-D scatter. Legends are drawn outside the plot area (above it, or to its right),
 * never over the data: a legend over a curve hides exactly the part a reader came to see. The palette
 * and the legend's row flow are `supcon/plot`'s, shared with the dashboard's charts.
 */
import sharp from 'sharp';
import { boxStats, legendFlow, PALETTE } from 'supcon/plot';

const W = 640;
const H = 400;
const M = { left: 60, right: 20, bottom: 45 };
/** The title's baseline; the legend rows (if any) start below it and the plot area below them. */
const TITLE_Y = 22;
const LEGEND_ROW = 18;
/** A generous estimate of one character's width at font-size 12 (DejaVu Sans), for layout. */
const CHAR_W = 7.2;

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A tick label: integers as integers, other numbers with three significant digits. */
function tick(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

/**
 * Legend entries laid out in rows between the title and the plot area: returns the SVG and the
 * y where the plot area may start.
 */
function legendRows(series: Series[]): { svg: string; bottom: number } {
  const widths = series.map((s) => 22 + CHAR_W * s.name.length);
  const flow = legendFlow(widths, M.left, W - M.right, 16);
  const parts = series.map((s, i) => {
    const { x, row } = flow[i]!;
    const y = TITLE_Y + 18 + LEGEND_ROW * row;
    return (
      `<g class="legend"><rect x="${x}" y="${y - 6}" width="16" height="4" fill="${s.color}"/>` +
      `<text x="${x + 20}" y="${y}">${esc(s.name)}</text></g>`
    );
  });
  const rows = flow.length > 0 ? flow.at(-1)!.row + 1 : 0;
  return { svg: parts.join(''), bottom: TITLE_Y + 12 + LEGEND_ROW * rows };
}

/** The opening of every chart: the `<svg>` element, a white background and the centred title. */
function svgHead(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="${TITLE_Y}" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
}

/**
 * A line chart as SVG, the legend in rows above the plot area. `xTicks` labels chosen x positions
 * (e.g. categories) instead of the two ends.
 *
 * @example
 *   linePlot('Training loss', 'iteration', 'SupCon loss', [{ name: 'per step', points, color: '#08519c' }]);
 */
export function linePlot(
  title: string,
  xLabel: string,
  yLabel: string,
  series: Series[],
  xTicks?: { at: number; label: string }[],
): string {
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  if (xTicks && xTicks.length > 0) {
    const at = xTicks.map((t) => t.at);
    [x0, x1] = [Math.min(...at), Math.max(...at)];
    if (x1 - x0 < 1e-9) [x0, x1] = [x0 - 0.5, x1 + 0.5];
    const pad = 0.05 * (x1 - x0);
    [x0, x1] = [x0 - pad, x1 + pad];
  }
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const legend = legendRows(series);
  const top = legend.bottom + 8;
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const sy = (y: number) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - top - M.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y0 + f * (y1 - y0));
  const parts = [
    ...svgHead(W, H, title),
    legend.svg,
    `<rect class="plot-area" x="${M.left}" y="${top}" width="${W - M.left - M.right}" height="${H - M.bottom - top}" fill="none"/>`,
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`,
    ...ticks.map(
      (t) =>
        `<text x="${M.left - 6}" y="${sy(t) + 4}" text-anchor="end">${t.toPrecision(3)}</text><line x1="${M.left}" x2="${W - M.right}" y1="${sy(t)}" y2="${sy(t)}" stroke="#ddd"/>`,
    ),
    xTicks && xTicks.length > 0
      ? xTicks
          .map(
            (t) =>
              `<text x="${sx(t.at)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(t.label)}</text>`,
          )
          .join('')
      : `<text x="${M.left}" y="${H - M.bottom + 16}">${tick(x0)}</text><text x="${W - M.right}" y="${H - M.bottom + 16}" text-anchor="end">${tick(x1)}</text>`,
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="14" y="${(top + H - M.bottom) / 2}" transform="rotate(-90 14 ${(top + H - M.bottom) / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
  for (const s of series) {
    const d = s.points
      .map((p, j) => `${j ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
      .join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    if (s.points.length < 30)
      for (const p of s.points)
        parts.push(
          `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${s.color}"/>`,
        );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

export interface Bar {
  label: string;
  /** In [0, 100]: the bars are percentages. */
  value: number;
  color: string;
}

/** The x axis of a bar chart, in percent: from `from` to `to`, a tick every `step`. */
export interface BarAxis {
  from: number;
  to: number;
  step: number;
}

/** The whole scale, 0–100 %: for bars that differ by many points. */
export const FULL_AXIS: BarAxis = { from: 0, to: 100, step: 25 };

/**
 * An axis that makes differences of tenths of a point visible between close percentages (92.67
 * against 92.93 on a 0–100 axis look equal): it starts a whole step below the smallest value, at
 * least one span of the values below it, and ends a step above the largest. Bars that span more
 * than 25 points, or would start below 50 %, keep the full axis. The chart says where its axis
 * starts (barPlot's axis note), since the bars no longer start at zero.
 */
export function closeUpAxis(values: number[]): BarAxis {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return FULL_AXIS;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const span = Math.max(hi - lo, 0.5);
  if (span > 25) return FULL_AXIS;
  const step = span <= 1 ? 0.5 : span <= 2.5 ? 1 : span <= 5 ? 2 : span <= 10 ? 5 : 10;
  const from = Math.floor((lo - span) / step) * step;
  const to = Math.min(100, Math.ceil((hi + span / 4) / step) * step);
  // `to` ≥ the largest value > `from`, both multiples of `step` (which divides 100): a step apart at least.
  return from < 50 ? FULL_AXIS : { from, to, step };
}

/**
 * A horizontal bar chart of percentages: one labelled bar per row, its value written at its end.
 * `axis` (default the full 0–100 %) sets the range the bars are drawn on; one that does not start
 * at zero is stated under the axis ("axis from 92 %").
 */
export function barPlot(title: string, xLabel: string, bars: Bar[], axis: BarAxis = FULL_AXIS): string {
  const labelWidth = Math.min(320, 12 + CHAR_W * Math.max(0, ...bars.map((b) => b.label.length)));
  const left = labelWidth + 8;
  const right = 70;
  const top = 40;
  const row = 28;
  const height = top + row * bars.length + 45;
  const clamp = (v: number) => Math.max(axis.from, Math.min(axis.to, v));
  const sx = (v: number) => left + ((clamp(v) - axis.from) / (axis.to - axis.from)) * (W - left - right);
  const digits = Number.isInteger(axis.step) ? 0 : 1;
  const ticks: number[] = [];
  for (let t = axis.from; t <= axis.to + 1e-9; t += axis.step) ticks.push(t);
  const label = axis.from === 0 ? xLabel : `${xLabel} (axis from ${axis.from.toFixed(digits)} %)`;
  const parts = [
    ...svgHead(W, height, title),
    ...ticks.map(
      (t) =>
        `<line x1="${sx(t)}" x2="${sx(t)}" y1="${top}" y2="${top + row * bars.length}" stroke="#ddd"/><text x="${sx(t)}" y="${top + row * bars.length + 16}" text-anchor="middle">${t.toFixed(digits)}</text>`,
    ),
    `<text x="${(left + W - right) / 2}" y="${height - 8}" text-anchor="middle">${esc(label)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = top + row * i;
    parts.push(
      `<text x="${left - 8}" y="${y + row / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${left}" y="${y + 5}" width="${(sx(b.value) - left).toFixed(1)}" height="${row - 10}" fill="${b.color}"/>`,
      `<text x="${(sx(b.value) + 4).toFixed(1)}" y="${y + row / 2 + 4}">${b.value.toFixed(2)}%</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface Box {
  label: string;
  /** The group's values (percentages, say), each drawn as a point over its box. */
  values: number[];
  color: string;
}

/**
 * Vertical box plots side by side, one per group: the box from the first to the third quartile, a
 * line at the median, whiskers to the minimum and maximum (supcon/plot's `boxStats`), and every
 * value drawn as a point over its box, spread sideways by rank so that equal values stay visible.
 * Under each box: its label, then n and the range (max − min).
 *
 * @example
 *   boxPlot('Sensitivity', 'test top-1 %', [{ label: 'SupCon', values: [90.1, 89.7, 90.4], color: '#d62728' }]);
 */
export function boxPlot(title: string, yLabel: string, boxes: Box[]): string {
  const all = boxes.flatMap((b) => b.values);
  let [y0, y1] = [Math.min(...all), Math.max(...all)];
  if (!(y1 - y0 > 1e-9)) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = 0.08 * (y1 - y0);
  [y0, y1] = [y0 - pad, y1 + pad];
  const top = 40;
  const base = H - M.bottom - 10;
  const sy = (y: number) => base - ((y - y0) / (y1 - y0)) * (base - top);
  const slot = (W - M.left - M.right) / Math.max(1, boxes.length);
  const half = Math.min(60, 0.25 * slot);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y0 + f * (y1 - y0));
  const f = (v: number) => v.toFixed(1);
  const parts = [
    ...svgHead(W, H, title),
    `<line x1="${M.left}" y1="${base}" x2="${W - M.right}" y2="${base}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${top}" x2="${M.left}" y2="${base}" stroke="black"/>`,
    ...ticks.map(
      (t) =>
        `<text x="${M.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${t.toPrecision(3)}</text><line x1="${M.left}" x2="${W - M.right}" y1="${f(sy(t))}" y2="${f(sy(t))}" stroke="#ddd"/>`,
    ),
    `<text x="14" y="${(top + base) / 2}" transform="rotate(-90 14 ${(top + base) / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
  boxes.forEach((b, i) => {
    const cx = M.left + slot * (i + 0.5);
    const s = boxStats(b.values);
    const n = b.values.length;
    parts.push(
      `<line class="whisker" x1="${f(cx)}" x2="${f(cx)}" y1="${f(sy(s.min))}" y2="${f(sy(s.max))}" stroke="${b.color}"/>`,
      ...[s.min, s.max].map(
        (v) =>
          `<line class="cap" x1="${f(cx - half / 2)}" x2="${f(cx + half / 2)}" y1="${f(sy(v))}" y2="${f(sy(v))}" stroke="${b.color}"/>`,
      ),
      `<rect class="box" x="${f(cx - half)}" y="${f(sy(s.q3))}" width="${f(2 * half)}" height="${f(sy(s.q1) - sy(s.q3))}" fill="${b.color}" fill-opacity="0.2" stroke="${b.color}"/>`,
      `<line class="median" x1="${f(cx - half)}" x2="${f(cx + half)}" y1="${f(sy(s.median))}" y2="${f(sy(s.median))}" stroke="${b.color}" stroke-width="2.5"/>`,
      ...[...b.values]
        .sort((p, q) => p - q)
        .map((v, k) => {
          const dx = n > 1 ? (k / (n - 1) - 0.5) * 1.2 * half : 0;
          return `<circle class="point" cx="${f(cx + dx)}" cy="${f(sy(v))}" r="3.5" fill="${b.color}" fill-opacity="0.8"/>`;
        }),
      `<text x="${f(cx)}" y="${H - M.bottom + 12}" text-anchor="middle">${esc(b.label)}</text>`,
      `<text x="${f(cx)}" y="${H - M.bottom + 28}" text-anchor="middle">n = ${n}, range ${(s.max - s.min).toFixed(2)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * A scatter of 2-D points coloured by class, the legend (class names) to the right of the points.
 * With more classes than colours the colours repeat, so a legend would mislead: a note replaces it.
 */
export function scatterPlot(
  title: string,
  points: [number, number][],
  labels: number[],
  classes: string[],
): string {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const S = 560;
  const named = classes.length <= PALETTE.length ? classes : [];
  const legendWidth = named.length > 0 ? 40 + CHAR_W * Math.max(...named.map((c) => c.length)) : 20;
  const sx = (x: number) => 20 + ((x - x0) / (x1 - x0 || 1)) * (S - 40);
  const sy = (y: number) => 40 + ((y1 - y) / (y1 - y0 || 1)) * (S - 60);
  const legend = named.map(
    (c, i) =>
      `<g class="legend"><circle cx="${S + 12}" cy="${50 + 20 * i}" r="5" fill="${PALETTE[i % PALETTE.length]}"/><text x="${S + 22}" y="${54 + 20 * i}">${esc(c)}</text></g>`,
  );
  const height = Math.max(S, 70 + 20 * named.length) + (named.length === classes.length ? 0 : 20);
  if (named.length < classes.length)
    legend.push(
      `<text x="20" y="${height - 8}">${classes.length} classes: the ${PALETTE.length} colours repeat, so no legend is drawn.</text>`,
    );
  return [
    ...svgHead(S + legendWidth, height, title),
    ...points.map(
      (p, i) =>
        `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="1.8" fill="${PALETTE[labels[i]! % PALETTE.length]}" fill-opacity="0.7"/>`,
    ),
    ...legend,
    '</svg>',
  ].join('\n');
}

/** The PNG bytes of an SVG string. */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}
