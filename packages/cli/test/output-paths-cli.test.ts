/**
 * One behaviour for every output path (missing folders created, an unwritable path one sentence
 * naming it, never a temporary file's ENOENT) and one exit-code policy across commands: 1 for a
 * command that failed (dataset missing or damaged), 2 for a command line that cannot run as written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, hasFashion, tinyTrain } from './helpers.js';

let dir: string;
let file: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'supcon-out-'));
  file = join(dir, 'a-file.txt');
  writeFileSync(file, 'not a folder');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function fails(r: ReturnType<typeof cli>, code: number, pattern: RegExp): void {
  assert.equal(r.status, code, `exit ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\.tmp-|\n\s+at /, 'no temporary file name, no stack trace');
  // One sentence (a warning that the native engine is unavailable may precede it on some machines).
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('supcon: warning:'));
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
}

test('embed and data preview create missing folders; an unwritable path is one sentence, exit 2', {
  skip: !hasFashion && 'no Fashion-MNIST',
}, () => {
  const png = join(dir, 'new', 'deeper', 'preview.png');
  const preview = cli('data', 'preview', 'fashion-mnist', '--out', png, '--rows', '2', '--views', '1');
  assert.equal(preview.status, 0, preview.stderr);
  assert.ok(existsSync(png));
  fails(
    cli('data', 'preview', 'fashion-mnist', '--out', join(file, 'x.png'), '--rows', '2', '--views', '1'),
    2,
    /`out`. Expected a folder that can be created .*Received: out=".*a-file\.txt"/,
  );

  const run = join(dir, 'run');
  const trained = cli('train', '--out', run, ...tinyTrain(256, 128), '--quiet');
  assert.equal(trained.status, 0, trained.stderr);
  const json = join(dir, 'new2', 'e.json');
  const embed = cli('embed', '--run', run, '--out', json, '--split', 'validation');
  assert.equal(embed.status, 0, embed.stderr);
  assert.ok(existsSync(json));
  fails(
    cli('embed', '--run', run, '--out', join(file, 'e.json'), '--split', 'validation'),
    2,
    /`out`. Expected a folder that can be created/,
  );
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.includes('.tmp')),
    [],
    'no temporary files left',
  );
  fails(cli('train', '--out', join(file, 'run'), '--encoder', 'mlp', '--limit', '256'), 2, /`out`/);
  fails(cli('sweep', '--vary', 'seed=1', '--out', join(file, 'sweep')), 2, /`out`/);
});

test('the same error exits with the same code from every command', () => {
  // An unknown dataset name is a bad argument (2); a dataset that is not where it is said to be is 1.
  for (const [dataset, code] of [
    ['folderr:x', 2],
    ['mnist:/nonexistent', 1],
    [`folder:${join(dir, 'missing')}`, 1],
  ] as const) {
    fails(cli('data', 'inspect', dataset), code, /dataset|Dataset/);
    fails(cli('train', '--dataset', dataset, '--out', join(dir, 'r'), '--quiet'), code, /dataset|Dataset/);
    fails(cli('data', 'preview', dataset, '--out', join(dir, 'p.png')), code, /dataset|Dataset/);
  }
  // A value the library refuses is a usage error wherever it is given.
  fails(cli('data', 'inspect', 'fashion-mnist', '--validation', '-3'), 2, /`validation`/);
  fails(cli('train', '--validation', '-3', '--out', join(dir, 'r')), 2, /`--validation`/);
  fails(cli('train', '--temperature', '0', '--out', join(dir, 'r')), 2, /`temperature`/);
  assert.match(cli('--help').stdout, /Exit codes: 0 done; 1 the command failed/);
});
