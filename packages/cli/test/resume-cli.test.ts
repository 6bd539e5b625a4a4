/**
 * `--resume` says what it does (issue 15, item 9): a folder without a checkpoint is refused, a
 * finished run says so and how to extend it, `--resume --epochs N` extends a run deliberately (the
 * schedule recomputed over the new total, recorded in config.json), a flag that would change the
 * recorded run is refused, and an interrupted `demo` finishes with its report.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cli, hasFashion, readJson, tinyTrain } from './helpers.js';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const skip = !hasFashion && 'no Fashion-MNIST';

interface StepLine {
  type: string;
  iteration: number;
  lr: number;
  loss: number;
}

const records = (run: string) =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepLine);

function assertOneSentence(r: ReturnType<typeof cli>, status: number, pattern: RegExp): void {
  assert.equal(r.status, status, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
}

test('--resume on a folder without a checkpoint is refused, naming the folder, and trains nothing', {
  skip,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-resume-'));
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  for (const command of ['train', 'demo']) {
    const r = cli(command, '--out', empty, '--resume', ...tinyTrain(256, 100), '--quiet', '--json');
    assertOneSentence(r, 2, new RegExp(`checkpoint.*Received: out="${empty.replace(/[/.]/g, '\\$&')}"`));
    assert.deepEqual(readdirSync(empty), [], `${command}: nothing written`);
  }
  // A run stopped before its first checkpoint holds only config.json: it starts again without --resume.
  const early = join(dir, 'early');
  const started = cli('train', '--out', early, ...tinyTrain(256, 100), '--quiet', '--json');
  assert.equal(started.status, 0, started.stderr);
  for (const name of readdirSync(early))
    if (name !== 'config.json') rmSync(join(early, name), { recursive: true });
  assertOneSentence(
    cli('train', '--out', early, '--resume', '--quiet'),
    2,
    /checkpoint\.bin.*without --resume/,
  );
  assert.deepEqual(readdirSync(early), ['config.json']);
  const missing = join(dir, 'missing');
  assertOneSentence(cli('train', '--out', missing, '--resume', '--quiet'), 2, /checkpoint/);
  assert.equal(existsSync(missing), false);
  rmSync(dir, { recursive: true });
});

test('a finished run says so; --resume --epochs N extends it with the schedule over N epochs', {
  skip,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-resume-'));
  const run = join(dir, 'run');
  const flags = tinyTrain(1024, 300); // 8 steps per epoch
  const first = cli('train', '--out', run, ...flags, '--quiet', '--json');
  assert.equal(first.status, 0, first.stderr);

  const again = cli('train', '--out', run, '--resume', '--quiet');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /already finished/);
  assert.match(again.stdout, /1 epoch/);
  assert.match(again.stdout, /--resume --epochs 2/);
  assert.doesNotMatch(again.stdout, /Trained supcon for/);
  const againJson = JSON.parse(cli('train', '--out', run, '--resume', '--quiet', '--json').stdout);
  assert.equal(againJson.alreadyFinished, true);
  assert.equal(againJson.iterations, 8);

  // Refused without touching the run: flags that would change what the run is.
  const config = readFileSync(join(run, 'config.json'), 'utf8');
  const other = cli('train', '--out', run, '--resume', '--epochs', '1', '--lr', '0.3', '--quiet');
  assertOneSentence(other, 2, /train\.lr: 0\.1 → 0\.3/);
  const changed = cli('train', '--out', run, '--resume', '--encoder', 'small-resnet', '--quiet');
  assertOneSentence(changed, 2, /model\.encoder: "mlp" → "small-resnet"/);
  assert.equal(readFileSync(join(run, 'config.json'), 'utf8'), config);
  // The same flags as recorded are fine (how `supcon sweep` resumes its runs).
  const same = cli('train', '--out', run, '--resume', ...flags, '--quiet', '--json');
  assert.equal(same.status, 0, same.stderr);
  assert.equal(JSON.parse(same.stdout).alreadyFinished, true);

  const extended = cli('train', '--out', run, '--resume', '--epochs', '2', '--quiet', '--json');
  assert.equal(extended.status, 0, extended.stderr);
  const e = JSON.parse(extended.stdout);
  assert.equal(e.resumedFrom, 8);
  assert.equal(e.iterations, 16);
  assert.equal(e.epochs, 2);
  const stored = readJson(join(run, 'config.json')) as {
    train: { epochs: number };
    extensions: { atIteration: number; fromEpochs: number; toEpochs: number }[];
  };
  assert.equal(stored.train.epochs, 2);
  assert.deepEqual(stored.extensions, [{ atIteration: 8, fromEpochs: 1, toEpochs: 2 }]);
  const steps = records(run).filter((r) => r.type === 'step');
  assert.deepEqual(
    steps.map((r) => r.iteration),
    [...Array(16).keys()],
  );
  assert.equal(records(run).filter((r) => r.type === 'epoch').length, 2);

  // The rule: from the extension on, the learning rate is the 2-epoch schedule's (a fresh 2-epoch run's).
  const fresh = join(dir, 'fresh');
  const two = cli('train', '--out', fresh, ...flags, '--epochs', '2', '--quiet', '--json');
  assert.equal(two.status, 0, two.stderr);
  const freshSteps = records(fresh).filter((r) => r.type === 'step');
  assert.deepEqual(
    steps.slice(8).map((r) => r.lr),
    freshSteps.slice(8).map((r) => r.lr),
  );
  assert.ok(steps[8]!.lr > steps[7]!.lr, 'the learning rate rises again at the extension');

  // Over several processes a run is not lengthened yet: refused before any worker starts.
  const dp = cli('train', '--processes', '2', '--out', run, '--resume', '--epochs', '3', '--quiet');
  assertOneSentence(dp, 2, /cannot lengthen a run over several processes.*--resume --epochs 3/);
  // Shorter than recorded: refused, naming the epochs.
  const shorter = cli('train', '--out', run, '--resume', '--epochs', '1', '--quiet');
  assertOneSentence(shorter, 2, /`--epochs`.*at least 2.*Received: 1/);
  // A config file holding a run's extensions cannot start a new run (it would not replay them).
  const replay = cli('train', '--config', join(run, 'config.json'), '--out', join(dir, 'replay'));
  assertOneSentence(replay, 2, /extensions/);
  assert.equal(existsSync(join(dir, 'replay')), false);
  rmSync(dir, { recursive: true });
});

test('an interrupted demo continues with `demo --resume` and writes its report', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-resume-'));
  const run = join(dir, 'demo');
  const args = [bin, 'demo', '--out', run, ...tinyTrain(1024, 300), '--epochs', '30', '--probe-epochs', '2'];
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let sent = false;
    p.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      if (!sent && /^epoch 1\/30/m.test(err)) {
        sent = true;
        p.kill('SIGINT');
      }
    });
    p.stdout.resume();
    p.on('error', reject);
    p.on('exit', (c) => resolve({ code: c, stderr: err }));
  });
  assert.equal(code, 130, stderr);
  assert.match(stderr, new RegExp(`supcon demo --out ${run.replace(/[/.]/g, '\\$&')} --resume`));
  assert.equal(existsSync(join(run, 'report.html')), false);
  const resumed = cli('demo', '--out', run, '--resume', '--quiet', '--json');
  assert.equal(resumed.status, 0, resumed.stderr);
  const summary = JSON.parse(resumed.stdout);
  assert.ok(summary.resumedFrom > 0 && summary.resumedFrom < 240, String(summary.resumedFrom));
  assert.equal(summary.iterations, 240);
  assert.ok(summary.testAccuracy > 0.5);
  assert.ok(existsSync(join(run, 'report.html')));
  // The demo keeps its probe as `supcon linear` does, so `supcon predict --run` works on it.
  assert.equal(summary.probeFile, join(run, 'probe.json'));
  const probe = JSON.parse(readFileSync(join(run, 'probe.json'), 'utf8'));
  assert.equal(probe.encoder.iteration, 240);
  rmSync(dir, { recursive: true });
});

test('--help of train and demo describes --resume and --resume --epochs N', () => {
  const train = cli('train', '--help').stdout;
  assert.match(train, /--resume --epochs N +lengthen the run/);
  assert.match(train, /refused when DIR\s+has no checkpoint/);
  const demo = cli('demo', '--help').stdout;
  assert.match(demo, /Usage: supcon demo \[--out DIR\] \[--resume\]/);
  assert.match(demo, /--resume --epochs N lengthens it/);
  assert.match(demo, /continue with --resume \(same --out\)/);
});
