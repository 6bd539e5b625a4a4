/**
 * The run report: PNG plots (training loss per step; kNN / linear-probe accuracy per epoch; a 2-D
 * PCA projection of the test embeddings coloured by class), drawn as SVG and rasterised by sharp,
 * and one self-contained HTML page that shows them with the summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { type FeatureSet, pca2 } from 'supcon';
import { writeFileDurable } from './checkpoint.js';
import { knnTestTop1, LEGACY_KNN_KEYS } from './knn.js';
import { runFiles } from './session.js';

const COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];
const W = 640;
const H = 400;
const M = { left: 60, right: 20, top: 40, bottom: 45 };

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A line chart as SVG; `xTicks` labels chosen x positions (e.g. categories) instead of the two ends. */
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
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const sy = (y: number) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y0 + f * (y1 - y0));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`,
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
      : `<text x="${M.left}" y="${H - M.bottom + 16}">${x0}</text><text x="${W - M.right}" y="${H - M.bottom + 16}" text-anchor="end">${x1}</text>`,
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
  series.forEach((s, i) => {
    const d = s.points
      .map((p, j) => `${j ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
      .join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    if (s.points.length < 30)
      for (const p of s.points)
        parts.push(`<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="3" fill="${s.color}"/>`);
    parts.push(
      `<text x="${W - M.right - 4}" y="${M.top + 14 + 16 * i}" text-anchor="end" fill="${s.color}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function scatterPlot(title: string, points: [number, number][], labels: number[], classes: string[]): string {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const S = 560;
  const sx = (x: number) => 20 + ((x - x0) / (x1 - x0 || 1)) * (S - 40);
  const sy = (y: number) => 40 + ((y1 - y) / (y1 - y0 || 1)) * (S - 60);
  const legend = classes.map(
    (c, i) =>
      `<circle cx="${S + 12}" cy="${50 + 20 * i}" r="5" fill="${COLORS[i % 10]}"/><text x="${S + 22}" y="${54 + 20 * i}">${esc(c)}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${S + 140}" height="${S}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${S / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    ...points.map(
      (p, i) =>
        `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="1.8" fill="${COLORS[labels[i]! % 10]}" fill-opacity="0.7"/>`,
    ),
    ...legend,
    '</svg>',
  ].join('\n');
}

export async function png(svg: string, file: string): Promise<void> {
  const bytes = await sharp(Buffer.from(svg)).png().toBuffer();
  writeFileDurable(file, bytes);
}

/** Writes loss.png, accuracy.png (when there are accuracies), embedding.png and report.html into the run folder. */
export async function writeReport(
  runDir: string,
  summary: Record<string, unknown>,
  test: FeatureSet,
  classes: string[],
): Promise<string> {
  const records = existsSync(runFiles(runDir).metrics)
    ? readFileSync(runFiles(runDir).metrics, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(
          (l) =>
            JSON.parse(l) as {
              type: string;
              iteration: number;
              loss: number;
              epoch: number;
              knnAccuracy?: number;
            },
        )
    : [];
  const steps = records.filter((r) => r.type === 'step');
  const epochs = records.filter((r) => r.type === 'epoch');
  const figures: string[] = [];
  if (steps.length > 0) {
    const every = Math.max(1, Math.floor(steps.length / 400));
    const points = steps
      .filter((_, i) => i % every === 0)
      .map((r) => [r.iteration + 1, r.loss] as [number, number]);
    const epochLoss = epochs.map((r) => [r.iteration, r.loss] as [number, number]);
    await png(
      linePlot('Training loss', 'iteration', 'loss', [
        { name: 'per step', points, color: '#9ecae1' },
        { name: 'epoch mean', points: epochLoss, color: '#08519c' },
      ]),
      join(runDir, 'loss.png'),
    );
    figures.push('loss.png');
  }
  const acc: Series[] = [];
  const knn = epochs
    .filter((r) => r.knnAccuracy !== undefined)
    .map((r) => [r.epoch + 1, r.knnAccuracy!] as [number, number]);
  if (knn.length > 0) acc.push({ name: 'kNN top-1 (validation)', points: knn, color: '#31a354' });
  if (typeof summary['testAccuracy'] === 'number' && epochs.length > 0) {
    const e = epochs.length;
    acc.push({
      name: 'linear probe top-1 (test, final)',
      points: [[e, summary['testAccuracy'] as number]],
      color: '#d62728',
    });
  }
  if (acc.length > 0) {
    await png(linePlot('Accuracy', 'epoch', 'accuracy', acc), join(runDir, 'accuracy.png'));
    figures.push('accuracy.png');
  }
  const { points, labels } = pca2(test);
  await png(
    scatterPlot('Test embeddings (encoder features, PCA to 2-D)', points, labels, classes),
    join(runDir, 'embedding.png'),
  );
  figures.push('embedding.png');
  const test1 = knnTestTop1(summary);
  const knnRow: [string, unknown][] = test1
    ? [[`kNN test top-1${test1.k !== undefined ? ` (k ${test1.k}, bank ${test1.bank})` : ''}`, test1.top1]]
    : [];
  const rows = [
    ...Object.entries(summary).filter(
      ([k, v]) => typeof v !== 'object' && !(LEGACY_KNN_KEYS as readonly string[]).includes(k),
    ),
    ...knnRow,
  ]
    .map(
      ([k, v]) =>
        `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v))}</td></tr>`,
    )
    .join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>supcon run report</title>
<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}th{text-align:left;padding-right:1em}img{max-width:100%;display:block;margin:1em 0}</style>
</head><body>
<h1>supcon run report</h1>
<table>${rows}</table>
${figures.map((f) => `<img src="${f}" alt="${f}">`).join('\n')}
</body></html>
`;
  const file = join(runDir, 'report.html');
  writeFileDurable(file, html);
  return file;
}
