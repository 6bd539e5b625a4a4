/**
 * `boxPlot` (the sensitivity study's figure): one box per group from q1 to q3, its median line, its
 * whisker from the minimum to the maximum, every value drawn as a point at its own height, the
 * label and n under the box; the SVG rasterises.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boxPlot } from '@supcon/node';
import { svgToPng } from '../src/train/plots.js';

const attrs = (svg: string, cls: string) =>
  [...svg.matchAll(new RegExp(`<(?:rect|line|circle) class="${cls}" ([^>]*)/>`, 'g'))].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, Number(a[2]) || a[2]!])),
  ) as Record<string, number>[];

test('boxPlot: box q1..q3, median, whiskers at the extremes, every point, on one y scale', async () => {
  const supcon = [90, 90.5, 91, 91.5, 92];
  const ce = [85, 88, 90, 91, 93, 93.5];
  const svg = boxPlot('Sensitivity', 'test top-1 %', [
    { label: 'SupCon', values: supcon, color: '#d62728' },
    { label: 'cross-entropy', values: ce, color: '#2ca02c' },
  ]);
  const [boxes, medians, whiskers, points] = ['box', 'median', 'whisker', 'point'].map((c) => attrs(svg, c));
  assert.equal(boxes!.length, 2);
  assert.equal(medians!.length, 2);
  assert.equal(points!.length, supcon.length + ce.length);
  // One linear y scale through two known values: SupCon's min (90) and max (92), its whisker's ends.
  const w0 = whiskers![0]!;
  const perUnit = (w0['y1']! - w0['y2']!) / (92 - 90);
  assert.ok(perUnit > 0, 'higher values are drawn higher up');
  const y = (v: number) => w0['y1']! - (v - 90) * perUnit;
  const near = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) < 0.11, `${what}: ${a} vs ${b}`);
  // SupCon: q1 90.5, median 91, q3 91.5; cross-entropy: q1 88.5, median 90.5, q3 92.5, whisker 85..93.5.
  near(boxes![0]!['y']!, y(91.5), 'SupCon q3');
  near(boxes![0]!['y']! + boxes![0]!['height']!, y(90.5), 'SupCon q1');
  near(medians![0]!['y1']!, y(91), 'SupCon median');
  near(medians![1]!['y1']!, y(90.5), 'cross-entropy median');
  near(boxes![1]!['y']!, y(92.5), 'cross-entropy q3');
  near(whiskers![1]!['y1']!, y(85), 'cross-entropy min');
  near(whiskers![1]!['y2']!, y(93.5), 'cross-entropy max');
  // Each point at its value's height, inside its own box's column.
  const drawn = points!.map((p) => p['cy']!).sort((a, b) => a - b);
  const expected = [...supcon, ...ce].map(y).sort((a, b) => a - b);
  for (const [i, d] of drawn.entries()) near(d, expected[i]!, `point ${i}`);
  assert.ok(
    points!.slice(0, 5).every((p) => p['cx']! < boxes![1]!['x']!),
    'SupCon points left of the second box',
  );
  assert.match(svg, />SupCon<\/text>/);
  assert.match(svg, />n = 6, range 8\.50<\/text>/);
  const png = await svgToPng(svg);
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
});
