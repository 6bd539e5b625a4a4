/**
 * The one run loop (train/run-loop.ts) behind `trainRun` and every MPI rank: the one-process run and
 * a one-rank data-parallel run write the same metrics records (timings aside: every step, every
 * epoch with its kNN accuracy, in the same order) and the same checkpoint bits, whether the rank is
 * driven in this process (the loop with a DataParallelTrainer on one-rank collectives) or started by
 * mpirun (`trainDistributed` with one process).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  buildNetworks,
  loadCheckpoint,
  type MetricsRecord,
  openRunFolder,
  prepareData,
  type RunSpec,
  readMetrics,
  resolveRunSpec,
  runFiles,
  runLoop,
  selectBackend,
  trainDistributed,
  trainRun,
} from '@supcon/node';
import { type Collectives, DataParallelTrainer } from 'supcon';
import { trainAugmenter } from '../src/train/run-common.js';
import { quadrantDataset, tinySpec } from './train-fixture.js';

await selectBackend('cpu');
const dirs: string[] = [];
const tempRun = () => {
  const d = mkdtempSync(join(tmpdir(), 'supcon-loop-'));
  dirs.push(d);
  return join(d, 'run');
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Two epochs of 6 steps, a checkpoint every 4 iterations (so also mid-epoch), the kNN monitor on. */
function spec(): RunSpec {
  const s = tinySpec(2);
  s.checkpointEvery = 4;
  s.knnK = 5;
  return resolveRunSpec(s);
}

/** A run folder's metrics records without the timings, which differ from run to run. */
function records(runDir: string): object[] {
  return readMetrics(runFiles(runDir).metrics).map((r: MetricsRecord) => {
    const { seconds: _s, imagesPerSecond: _i, ...rest } = r as MetricsRecord & { imagesPerSecond?: number };
    return rest;
  });
}

function checkpointValues(runDir: string): Record<string, number[]> {
  const { state } = loadCheckpoint(runFiles(runDir).checkpoint);
  return Object.fromEntries(Object.entries(state.variables).map(([k, v]) => [k, [...v.values]]));
}

describe('one run loop for one process and every rank', { timeout: 240_000 }, () => {
  const s = spec();
  const dataset = quadrantDataset();
  const single = tempRun();
  let expected: object[] = [];

  it('one process and a one-rank group driven by the same loop write the same records and bits', async () => {
    const r = await trainRun(s, single, { dataset, commandLine: ['test'] });
    r.trainer.dispose();
    expected = records(single);
    assert.equal(expected.filter((x) => (x as { type: string }).type === 'step').length, 12);
    const epochs = expected.filter((x) => (x as { type: string }).type === 'epoch');
    assert.equal(epochs.length, 2);
    for (const e of epochs) assert.equal(typeof (e as { knnAccuracy?: number }).knnAccuracy, 'number');

    const rankDir = tempRun();
    const data = await prepareData(s, dataset);
    const { encoder, head } = buildNetworks(s, data);
    const { steps, augmenter } = trainAugmenter(s, data);
    const o = augmenter.output;
    const alone: Collectives = {
      rank: 0,
      size: 1,
      allGather: (local) => local.slice(),
      allReduceSum: (values) => values.slice(),
    };
    const trainer = new DataParallelTrainer({
      config: s.train,
      encoder,
      head,
      data: data.train,
      makeViews: (images, count, opts) => augmenter.apply(images, count, opts),
      viewShape: [o.height, o.width, o.channels],
      collectives: alone,
    });
    openRunFolder(rankDir, { spec: s, writeSpec: true, commandLine: ['test'] });
    const result = await runLoop({
      trainer,
      spec: s,
      runDir: rankDir,
      data,
      evalSteps: steps.eval,
      writes: true,
      stop: () => false,
    });
    trainer.dispose();
    const { trainSeconds, ...flags } = result;
    assert.deepEqual(flags, { alreadyFinished: false, stopped: false });
    assert.ok(trainSeconds > 0, `trainSeconds ${trainSeconds}`);
    assert.deepEqual(records(rankDir), expected);
    assert.deepEqual(checkpointValues(rankDir), checkpointValues(single));
    assert.ok(existsSync(runFiles(rankDir).encoderModel), 'the finished loop exported the encoder');
    assert.deepEqual(
      JSON.parse(readFileSync(runFiles(rankDir).config, 'utf8')),
      JSON.parse(readFileSync(runFiles(single).config, 'utf8')),
    );
  });

  const skip = spawnSync('mpirun', ['--version']).status === 0 ? false : 'mpirun is not installed';
  it('an MPI run of one rank writes the one-process records and bits', { skip }, async () => {
    assert.ok(expected.length > 0, 'the one-process run of the first case');
    const runDir = tempRun();
    const result = await trainDistributed(s, runDir, { processes: 1, backend: 'cpu', dataset });
    assert.equal(result.interrupted, false);
    assert.deepEqual(records(runDir), expected);
    assert.deepEqual(checkpointValues(runDir), checkpointValues(single));
    assert.ok(existsSync(runFiles(runDir).encoderModel));
  });
});
