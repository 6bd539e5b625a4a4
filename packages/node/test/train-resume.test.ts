/**
 * Checkpoints and resume: the file format detects corruption; a run stopped and resumed equals an
 * uninterrupted one (weights and metrics); a process SIGKILLed at random moments several times always
 * resumes from a readable checkpoint and ends with the same weights as an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CheckpointError,
  evaluateEncoder,
  loadCheckpoint,
  runFiles,
  saveCheckpoint,
  trainRun,
} from '@supcon/node';
import { Random } from 'supcon';
import { quadrantDataset, tinySpec } from './train-fixture.js';

const child = fileURLToPath(new URL('./train-child.js', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'supcon-train-'));

function weights(dir: string): Record<string, number[]> {
  const { state } = loadCheckpoint(runFiles(dir).checkpoint);
  return Object.fromEntries(Object.entries(state.variables).map(([k, v]) => [k, Array.from(v.values)]));
}

function stepLosses(dir: string): number[] {
  return readFileSync(runFiles(dir).metrics, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { type: string; loss: number })
    .filter((r) => r.type === 'step')
    .map((r) => r.loss);
}

test('checkpoints round-trip and reject truncated or altered files', () => {
  const dir = tmp();
  const file = join(dir, 'c.bin');
  const state = {
    iteration: 7,
    epochLoss: { sum: 1.5, steps: 2 },
    variables: { 'encoder/w': { shape: [2, 3], values: Float32Array.from([1, 2, 3, 4, 5, 6]) } },
    optimizer: {
      kind: 'sgd',
      step: 7,
      slots: { 'encoder/w/momentum': { shape: [2, 3], values: new Float32Array(6).fill(0.5) } },
    },
  };
  saveCheckpoint(file, state, { note: 'x' });
  const back = loadCheckpoint(file);
  assert.deepEqual(back.state, state);
  assert.deepEqual(back.meta, { note: 'x' });
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, bytes.length - 5));
  assert.throws(() => loadCheckpoint(file), CheckpointError);
  const altered = Buffer.from(bytes);
  altered[altered.length - 2] = altered[altered.length - 2]! ^ 0xff;
  writeFileSync(file, altered);
  assert.throws(() => loadCheckpoint(file), /does not match the recorded SHA-256/);
  writeFileSync(file, 'hello');
  assert.throws(() => loadCheckpoint(file), /not a supcon checkpoint/);
  rmSync(dir, { recursive: true });
});

test('a run stopped after 7 steps and resumed equals an uninterrupted run; the probe learns', async () => {
  const full = tmp();
  const { trainer, data } = await trainRun(tinySpec(), full, { dataset: quadrantDataset() });
  // The probe on this easily separable set must beat chance (0.25) by far.
  const { summary } = evaluateEncoder(tinySpec(), trainer.encoder, data);
  assert.ok(summary.testAccuracy > 0.8, `probe test accuracy ${summary.testAccuracy}`);
  const parted = tmp();
  await trainRun(
    tinySpec(),
    parted,
    { dataset: quadrantDataset() },
    { stop: (t) => t.position.iteration === 7 },
  );
  assert.equal(loadCheckpoint(runFiles(parted).checkpoint).state.iteration, 7);
  await assert.rejects(trainRun(tinySpec(), parted, { dataset: quadrantDataset() }), /argument `out`/);
  await trainRun(tinySpec(), parted, { resume: true, dataset: quadrantDataset() });
  assert.deepEqual(weights(parted), weights(full));
  assert.deepEqual(stepLosses(parted), stepLosses(full));
  rmSync(full, { recursive: true });
  rmSync(parted, { recursive: true });
});

test("a resumed run counts the earlier process's training time: each checkpoint records the sum", async () => {
  const dir = tmp();
  const first = await trainRun(
    tinySpec(),
    dir,
    { dataset: quadrantDataset() },
    { stop: (t) => t.position.iteration === 7 },
  );
  // A kill now would leave only the checkpoint: its time is what a resume can count.
  const before = loadCheckpoint(runFiles(dir).checkpoint).meta['trainSeconds'] as number;
  assert.ok(
    before > 0 && before <= first.trainSeconds,
    `checkpoint ${before} s, first part ${first.trainSeconds} s`,
  );
  const started = performance.now();
  const second = await trainRun(tinySpec(), dir, { resume: true, dataset: quadrantDataset() });
  const own = (performance.now() - started) / 1000;
  const added = second.trainSeconds - before;
  assert.ok(
    added > 0 && added <= own,
    `resumed total ${second.trainSeconds} s = ${before} + ${added}, own ${own} s`,
  );
  const last = loadCheckpoint(runFiles(dir).checkpoint).meta['trainSeconds'] as number;
  assert.ok(last > before && last <= second.trainSeconds, `final checkpoint ${last} s`);
  rmSync(dir, { recursive: true });
});

function runChild(
  dir: string,
  resume: boolean,
  epochs: number,
  killAfterSteps?: number,
): Promise<{ killed: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, dir, resume ? 'resume' : 'fresh', String(epochs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = 0;
    let err = '';
    let killed = false;
    p.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      seen += chunk.split('\n').filter((l) => l.startsWith('step')).length;
      if (killAfterSteps !== undefined && seen >= killAfterSteps && !killed) {
        killed = true;
        p.kill('SIGKILL');
      }
    });
    p.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve({ killed: signal === 'SIGKILL' });
      else reject(new Error(`child exited with ${code}: ${err}`));
    });
  });
}

test('SIGKILL at random moments: every resume succeeds, no checkpoint is corrupt, the result is exact', async () => {
  const epochs = 8; // 6 steps per epoch → 48 steps
  const reference = tmp();
  await runChild(reference, false, epochs);
  const dir = tmp();
  const random = new Random(2026);
  let kills = 0;
  let first = true;
  for (let round = 0; round < 6; round++) {
    const { killed } = await runChild(dir, !first, epochs, 1 + random.int(0, 12));
    first = false;
    if (killed) kills++;
    if (existsSync(runFiles(dir).checkpoint)) loadCheckpoint(runFiles(dir).checkpoint); // throws if corrupt
  }
  assert.ok(kills >= 4, `only ${kills} kills landed mid-run`);
  await runChild(dir, true, epochs);
  assert.equal(loadCheckpoint(runFiles(dir).checkpoint).state.iteration, 48);
  assert.deepEqual(weights(dir), weights(reference));
  assert.deepEqual(stepLosses(dir), stepLosses(reference));
  rmSync(reference, { recursive: true });
  rmSync(dir, { recursive: true });
});
