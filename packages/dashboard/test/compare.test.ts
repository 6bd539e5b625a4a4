/**
 * The dashboard page's comparison logic, run in Node (web/compare.ts and web/plot.ts draw nothing
 * until called with a DOM): run colours, selection, screenshot mode, overlaid series, the note for
 * runs on different datasets, integer ticks and the legend's rows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assignColors,
  datasetNote,
  knnSeries,
  liveMode,
  lossSeries,
  type MetricRecord,
  requestedRuns,
  shortNumber,
} from '../web/compare.js';
import { legendLayout, niceTicks, PALETTE } from '../web/plot.js';

const step = (iteration: number, loss: number): MetricRecord => ({ type: 'step', epoch: 0, iteration, loss });
const epoch = (e: number, iteration: number, loss: number, knnAccuracy?: number): MetricRecord => ({
  type: 'epoch',
  epoch: e,
  iteration,
  loss,
  ...(knnAccuracy !== undefined ? { knnAccuracy } : {}),
});

describe('dashboard page logic', () => {
  it('gives each run its own colour, and keeps it when runs appear', () => {
    const first = assignColors(new Map(), ['a', 'b', 'c']);
    assert.deepEqual([...first.values()], PALETTE.slice(0, 3));
    // A run appearing before the others in the table does not repaint them.
    const later = assignColors(first, ['0-new', 'a', 'b', 'c']);
    assert.deepEqual(
      ['a', 'b', 'c'].map((id) => later.get(id)),
      PALETTE.slice(0, 3),
    );
    assert.equal(later.get('0-new'), PALETTE[3]);
    // The same folder gets the same colours on every load.
    assert.deepEqual([...assignColors(new Map(), ['a', 'b', 'c'])], [...first]);
    // Distinct while the palette lasts.
    const many = assignColors(
      new Map(),
      Array.from({ length: 10 }, (_, i) => `r${i}`),
    );
    assert.equal(new Set(many.values()).size, 10);
  });

  it('turns the live stream off in screenshot mode', () => {
    assert.equal(liveMode('', false), true);
    assert.equal(liveMode('?run=a', false), true);
    assert.equal(liveMode('?static=1', false), false);
    assert.equal(liveMode('?static', false), false);
    assert.equal(liveMode('?static=0', false), true);
    assert.equal(liveMode('?live=0', false), false);
    assert.equal(liveMode('', true), false); // `supcon dashboard --static`
  });

  it('ticks the runs ?run= names, repeated to compare, skipping unknown ones', () => {
    assert.deepEqual(requestedRuns('?run=b&run=a&run=nope&run=b', ['a', 'b', 'c']), ['b', 'a']);
    assert.deepEqual(
      requestedRuns(`?run=${encodeURIComponent('tau/temperature=0.1')}`, ['tau/temperature=0.1']),
      ['tau/temperature=0.1'],
    );
    assert.deepEqual(requestedRuns('', ['a']), []);
  });

  it('notes when the compared runs come from different datasets', () => {
    assert.equal(
      datasetNote([
        { id: 'a', dataset: 'fashion-mnist' },
        { id: 'b', dataset: 'fashion-mnist' },
      ]),
      undefined,
    );
    assert.equal(datasetNote([{ id: 'a', dataset: 'fashion-mnist' }]), undefined);
    assert.equal(
      datasetNote([
        { id: 'a', dataset: 'fashion-mnist' },
        { id: 'c', dataset: 'cifar10' },
        { id: 'b', dataset: 'fashion-mnist' },
        { id: 'old' },
      ]),
      'These runs use different datasets, fashion-mnist (a, b); cifar10 (c); unknown (old): their losses and accuracies are not comparable.',
    );
  });

  it('overlays one loss curve per run in its colour; one run alone gets steps and epoch means', () => {
    const a = { id: 'a', color: '#111', records: [step(0, 5), step(1, 4), epoch(0, 2, 4.5, 0.5)] };
    const b = { id: 'b', color: '#222', records: [step(0, 6), step(1, 5.5)] };
    const one = lossSeries([a]);
    assert.deepEqual(
      one.map((s) => [s.name, s.color, s.points]),
      [
        [
          'step',
          '#111',
          [
            [0, 5],
            [1, 4],
          ],
        ],
        ['epoch mean', '#111', [[2, 4.5]]],
      ],
    );
    const two = lossSeries([a, b]);
    assert.deepEqual(
      two.map((s) => [s.name, s.color, s.points.length]),
      [
        ['a', '#111', 2],
        ['b', '#222', 2],
      ],
    );
    assert.deepEqual(
      knnSeries([a, b]).map((s) => [s.name, s.points]),
      [
        ['a', [[1, 0.5]]],
        ['b', []],
      ],
    );
    assert.equal(knnSeries([a])[0]!.name, 'kNN top-1');
  });

  it('puts ticks of epochs and iterations at integers only', () => {
    assert.deepEqual(niceTicks(0, 2, 5, true), [0, 1, 2]);
    assert.deepEqual(niceTicks(1, 3, 5, true), [1, 2, 3]);
    assert.deepEqual(niceTicks(0, 2, 5), [0, 0.5, 1, 1.5, 2]); // a loss axis keeps its fractions
    for (const [lo, hi] of [
      [0, 1],
      [0, 7],
      [0, 24],
      [0, 999],
      [3, 4],
    ] as const) {
      const ticks = niceTicks(lo, hi, 5, true);
      assert.ok(ticks.length > 0 && ticks.every(Number.isInteger), `${lo}..${hi}: ${ticks}`);
    }
  });

  it('wraps a long legend into rows inside the plot width', () => {
    const names = ['tau/temperature=0.05', 'tau/temperature=0.1', 'tau/temperature=0.5', 'baseline', 'ce'];
    const at = legendLayout(names, 52, 508);
    assert.ok(at.every((p) => p.x >= 52 && p.x < 508));
    assert.ok(Math.max(...at.map((p) => p.row)) >= 1, JSON.stringify(at));
    assert.deepEqual(at[0], { x: 52, row: 0 });
    // Each row starts at the left edge.
    for (let i = 1; i < at.length; i++) if (at[i]!.row > at[i - 1]!.row) assert.equal(at[i]!.x, 52);
  });

  it('prints hyperparameters short', () => {
    assert.deepEqual([0.05, 0.1, 0.5, 1e-4, 1.5e-4, 0.123456, 1024, undefined].map(shortNumber), [
      '0.05',
      '0.1',
      '0.5',
      '1e-4',
      '1.5e-4',
      '0.123',
      '1024',
      '',
    ]);
  });
});
