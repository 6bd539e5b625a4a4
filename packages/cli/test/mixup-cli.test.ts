/**
 * `supcon train --method ce --mixup A --cutmix A --mix-prob P` on a Fashion-MNIST slice (MLP
 * encoder): config.json holds the options, mixing changes what trains, an interrupted mixed run
 * resumed with `--resume` takes the same steps as an uninterrupted one (the draws follow the
 * iteration), `--resume` refuses a change of the options, and bad values, supcon/simclr and several
 * MPI ranks are refused in one sentence naming the flag.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bin, cli, hasFashion, readJson, tinyFashion, tinyRun } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(1152, 200) : '';
const root = mkdtempSync(join(tmpdir(), 'supcon-mixup-'));
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
  rmSync(root, { recursive: true });
});
/** 1024 training images in batches of 64: 16 steps an epoch. */
const run = (epochs: number) => [...tinyRun(data, 64, epochs), '--method', 'ce'];
const MIX = ['--mixup', '0.2', '--cutmix', '1', '--mix-prob', '0.8'];

const stepLosses = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; loss: number; accuracy?: number })
    .filter((r) => r.type === 'step')
    .map((r) => [r.loss, r.accuracy]);

function assertOneSentence(r: ReturnType<typeof cli>, pattern: RegExp): void {
  assert.equal(r.status, 2, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
}

test('train --mixup 0.2 (the brief run) writes config.json with it, trains, and resumes', { skip }, () => {
  const out = join(root, 'brief');
  const flags = ['--method', 'ce', '--encoder', 'mlp', '--limit', '256']; // Debian's whole Fashion-MNIST
  const t = cli('train', '--out', out, ...flags, '--epochs', '1', '--mixup', '0.2', '--quiet', '--json');
  assert.equal(t.status, 0, t.stderr);
  const train = readJson(join(out, 'config.json'))['train'] as Record<string, unknown>;
  assert.equal(train['mixupAlpha'], 0.2);
  assert.ok(!('cutmixAlpha' in train) && !('mixProb' in train));
  const again = cli('train', '--out', out, '--resume', '--epochs', '2', '--quiet', '--json');
  assert.equal(again.status, 0, again.stderr);
  const s = JSON.parse(again.stdout) as { resumedFrom: number; iterations: number };
  assert.ok(s.resumedFrom > 0 && s.iterations === 2 * s.resumedFrom, again.stdout);
});

test('mixed training: stored in config.json, other steps than unmixed, resumed exactly after Ctrl-C', {
  skip,
}, async () => {
  const full = join(root, 'full');
  const t = cli('train', '--out', full, ...run(4), ...MIX, '--quiet', '--json');
  assert.equal(t.status, 0, t.stderr);
  const train = readJson(join(full, 'config.json'))['train'] as Record<string, unknown>;
  assert.deepEqual([train['mixupAlpha'], train['cutmixAlpha'], train['mixProb']], [0.2, 1, 0.8]);
  const plain = join(root, 'plain');
  const p = cli('train', '--out', plain, ...run(4), '--quiet', '--json');
  assert.equal(p.status, 0, p.stderr);
  assert.equal('mixupAlpha' in (readJson(join(plain, 'config.json'))['train'] as object), false);
  const fullSteps = stepLosses(full);
  assert.equal(fullSteps.length, 64);
  assert.notDeepEqual(stepLosses(plain), fullSteps, 'mixing changes the steps');

  // Interrupted after its first epoch, then continued with --resume: the same 64 steps.
  const cut = join(root, 'cut');
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'train', '--out', cut, ...run(4), ...MIX], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    let sent = false; // once: a second Ctrl-C exits at once
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      if (!sent && /^epoch 1\/4/m.test(err)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  assert.equal(code, 130);
  const resumed = cli('train', '--out', cut, '--resume', '--quiet', '--json');
  assert.equal(resumed.status, 0, resumed.stderr);
  const r = JSON.parse(resumed.stdout) as { resumedFrom: number; iterations: number };
  assert.ok(r.resumedFrom >= 16 && r.resumedFrom < 64, `resumed from ${r.resumedFrom}`);
  assert.equal(r.iterations, 64);
  assert.deepEqual(stepLosses(cut), fullSteps);

  // --resume refuses a change of the mixing options, naming the field.
  assertOneSentence(
    cli('train', '--out', full, '--resume', '--mixup', '0.4', '--quiet'),
    /train\.mixupAlpha: 0\.2 → 0\.4/,
  );
  assertOneSentence(
    cli('train', '--out', plain, '--resume', '--cutmix', '1', '--quiet'),
    /train\.cutmixAlpha: absent → 1/,
  );
});

test('bad values, supcon and simclr, and several MPI ranks are refused naming the flag', () => {
  const out = join(root, 'refused');
  const refusals: [string[], RegExp][] = [
    [
      ['--method', 'supcon', '--mixup', '0.2'],
      /^supcon: Invalid value for argument `--mixup`. Expected it only with `--method ce` \(a mixed label defines no positives for supcon\). Received: --mixup=0.2.\n$/,
    ],
    [
      ['--method', 'simclr', '--cutmix', '1'],
      /`--cutmix`. Expected it only with `--method ce` .*for simclr\)/,
    ],
    [['--cutmix', '1'], /`--cutmix`. Expected it only with `--method ce`/], // the default method is supcon
    [
      ['--method', 'ce', '--mixup', '0'],
      /`--mixup`. Expected a Beta concentration α > 0 \(leave the flag out for no mixup\). Received: --mixup=0./,
    ],
    [
      ['--method', 'ce', '--cutmix', '-1'],
      /`--cutmix`. Expected a Beta concentration α > 0.*Received: --cutmix=-1./,
    ],
    [
      ['--method', 'ce', '--mix-prob', '0.5'],
      /`--mix-prob`. Expected a probability in \(0, 1\] with `--mixup A` or `--cutmix A`/,
    ],
    [['--method', 'ce', '--mixup', '1', '--mix-prob', '1.5'], /`--mix-prob`.*Received: --mix-prob=1.5./],
    [['--method', 'ce', '--mixup', '1', '--mix-prob', '0'], /`--mix-prob`.*Received: --mix-prob=0./],
    [
      ['--processes', '2', '--method', 'ce', '--mixup', '0.2'],
      /Flag `--mixup` does not apply with several MPI ranks: a batch is mixed with a shuffle of the whole batch/,
    ],
  ];
  for (const [flags, message] of refusals) {
    const r = cli('train', '--out', out, '--encoder', 'mlp', ...flags);
    assertOneSentence(r, message);
  }
  assert.equal(existsSync(out), false, 'nothing written for a refused run');
});
