/**
 * The report's charts and page (issue 15, item 13): no legend over the data in `linePlot` (checked on
 * the SVG string: no point of any drawn line lies inside a legend entry's box), and `writeReport`
 * (what `supcon demo` calls) titles a run without a test split "Validation embeddings".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { barPlot, closeUpAxis, linePlot, writeReport } from '@supcon/node';

type Box = { x0: number; x1: number; y0: number; y1: number };

/** Boxes around the legend texts (series names), from their x, y and anchor; 7.5 px per character. */
function legendBoxes(svg: string, names: string[]): Box[] {
  const boxes: Box[] = [];
  for (const m of svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)) {
    if (!names.includes(m[2]!)) continue;
    const attr = (name: string) => m[1]!.match(new RegExp(`${name}="([^"]*)"`))?.[1];
    const x = Number(attr('x'));
    const y = Number(attr('y'));
    const width = 7.5 * m[2]!.length;
    const anchor = attr('text-anchor') ?? 'start';
    const x0 = anchor === 'end' ? x - width : anchor === 'middle' ? x - width / 2 : x;
    boxes.push({ x0: x0 - 2, x1: x0 + width + 2, y0: y - 12, y1: y + 3 });
  }
  return boxes;
}

/** Points along every drawn polyline (`<path d="M…L…">`), 20 per segment, and every marker. */
function drawnPoints(svg: string): [number, number][] {
  const points: [number, number][] = [];
  for (const m of svg.matchAll(/<path d="([^"]*)"/g)) {
    const vertices = [...m[1]!.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((v) => [
      Number(v[1]),
      Number(v[2]),
    ]);
    for (let i = 1; i < vertices.length; i++) {
      const [a, b] = [vertices[i - 1]!, vertices[i]!];
      for (let t = 0; t <= 20; t++)
        points.push([a[0]! + ((b[0]! - a[0]!) * t) / 20, a[1]! + ((b[1]! - a[1]!) * t) / 20]);
    }
  }
  for (const m of svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g))
    points.push([Number(m[1]), Number(m[2])]);
  return points;
}

test('linePlot draws no legend over the lines, wherever the lines run', () => {
  const flat = (y: number) => Array.from({ length: 60 }, (_, i) => [i, y] as [number, number]);
  const series = [
    { name: 'kNN top-1 on validation (k 200)', points: flat(0.97), color: '#31a354' },
    { name: 'top', points: flat(1), color: '#d62728' },
    { name: 'middle', points: flat(0.5), color: '#1f77b4' },
    { name: 'bottom', points: flat(0), color: '#9467bd' },
    {
      name: 'rising',
      points: Array.from({ length: 60 }, (_, i) => [i, i / 59] as [number, number]),
      color: '#000',
    },
  ];
  const svg = linePlot('Accuracy', 'epoch', 'top-1 (%)', series);
  const boxes = legendBoxes(
    svg,
    series.map((s) => s.name),
  );
  assert.equal(boxes.length, series.length, 'one legend entry per series');
  const points = drawnPoints(svg);
  assert.ok(points.length > 1000);
  for (const b of boxes)
    for (const [x, y] of points)
      assert.ok(
        !(x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1),
        `legend box ${JSON.stringify(b)} covers the line at (${x.toFixed(1)}, ${y.toFixed(1)})`,
      );
});

test('writeReport titles the embeddings of a run without a test split "Validation embeddings"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-report-'));
  try {
    const step = (i: number) => ({ type: 'step', epoch: 0, step: i, iteration: i, loss: 5 - i / 10 });
    const lines = [0, 1, 2].map((i) => JSON.stringify(step(i)));
    lines.push(JSON.stringify({ type: 'epoch', epoch: 0, iteration: 3, loss: 4.9, knnAccuracy: 0.5 }));
    writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ train: { method: 'supcon', epochs: 1 }, knnK: 200 }),
    );
    const summary = { testSet: false, validationAccuracy: 0.625, validationTop5: 1 };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
    const count = 12;
    const features = {
      features: Float32Array.from({ length: count * 4 }, (_, i) => Math.sin(i * 1.7) + (i % 4)),
      labels: Int32Array.from({ length: count }, (_, i) => i % 3),
      count,
      dim: 4,
    };
    const file = await writeReport(dir, summary, features, ['a', 'b', 'c']);
    const page = readFileSync(file, 'utf8');
    assert.match(page, /Validation embeddings/);
    assert.doesNotMatch(page, /Test embeddings/);
    assert.match(page, /linear probe top-1, validation \(no test split\)<\/th><td>62\.50%/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeReport lists a cross-entropy run’s label smoothing and mixing, and none for a run without them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-report-'));
  try {
    const step = { type: 'step', epoch: 0, step: 0, iteration: 0, loss: 2.3 };
    writeFileSync(join(dir, 'metrics.jsonl'), `${JSON.stringify(step)}\n`);
    const summary = { testSet: false, validationAccuracy: 0.5, validationTop5: 1 };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
    const features = {
      features: new Float32Array(6 * 2),
      labels: Int32Array.from([0, 1, 0, 1, 0, 1]),
      count: 6,
      dim: 2,
    };
    const page = async (train: Record<string, unknown>) => {
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({ train: { method: 'ce', epochs: 1, ...train } }),
      );
      return readFileSync(await writeReport(dir, summary, features, ['a', 'b']), 'utf8');
    };
    const mixed = await page({ labelSmoothing: 0.1, mixupAlpha: 0.8, cutmixAlpha: 1, mixProb: 0.5 });
    assert.match(mixed, /<th>Label smoothing<\/th><td>0\.1<\/td>/);
    assert.match(
      mixed,
      /<th>Mixing<\/th><td>mixup α 0\.8 or cutmix α 1, one of the two per mixed batch, probability 0\.5 per batch<\/td>/,
    );
    assert.match(
      await page({ cutmixAlpha: 1 }),
      /<th>Mixing<\/th><td>cutmix α 1, probability 1 per batch<\/td>/,
    );
    const plain = await page({});
    assert.doesNotMatch(plain, /Label smoothing|Mixing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('closeUpAxis: close percentages get an axis that shows tenths; far apart ones keep 0–100', () => {
  // The demo's comparison (2026-12-03): 92.67, 92.93, 92.91 → from 92 to 93.5, ticks every 0.5.
  assert.deepEqual(closeUpAxis([92.67, 92.93, 92.91]), { from: 92, to: 93.5, step: 0.5 });
  // Table 2 with SimCLR far behind: one axis for all, from 60.
  assert.deepEqual(closeUpAxis([90.75, 90.82, 75.86]), { from: 60, to: 100, step: 10 });
  // A span over 25 points, or values so low the close-up would start under 50 %: the full axis.
  assert.deepEqual(closeUpAxis([92, 60]), { from: 0, to: 100, step: 25 });
  assert.deepEqual(closeUpAxis([30, 31]), { from: 0, to: 100, step: 25 });
  assert.deepEqual(closeUpAxis([]), { from: 0, to: 100, step: 25 });
  for (const values of [
    [92.67, 92.93],
    [99.9, 99.95],
    [88, 91.3],
    [70, 80, 85],
    [70, 90],
    [80, 85],
    [91, 93.4],
  ]) {
    const a = closeUpAxis(values);
    assert.ok(
      a.from < Math.min(...values) && a.to >= Math.max(...values),
      `${values} in [${a.from}, ${a.to}]`,
    );
    assert.ok(a.to <= 100 && (a.to - a.from) / a.step <= 8, `${values}: ${JSON.stringify(a)}`);
  }
});

test('barPlot on a close-up axis: bar lengths follow value − from, and the axis says where it starts', () => {
  const bars = [
    { label: 'a', value: 92.67, color: '#111' },
    { label: 'b', value: 92.93, color: '#222' },
  ];
  const widths = (svg: string) => [...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
  const full = barPlot('t', 'test top-1 %', bars);
  const close = barPlot('t', 'test top-1 %', bars, closeUpAxis([92.67, 92.93]));
  const [fa, fb] = widths(full).slice(-2) as [number, number];
  const [ca, cb] = widths(close).slice(-2) as [number, number];
  assert.ok(Math.abs(fa / fb - 92.67 / 92.93) < 1e-3, `full axis: ${fa} / ${fb}`);
  assert.ok(Math.abs(ca / cb - 0.67 / 0.93) < 1e-2, `close-up: ${ca} / ${cb}`);
  assert.match(close, /test top-1 % \(axis from 92\.0 %\)/);
  assert.doesNotMatch(full, /axis from/);
  assert.match(close, />92\.5</);
});
