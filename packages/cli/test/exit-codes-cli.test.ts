/**
 * One exit-code policy (0 done, 1 failed, 2 bad usage, 130 interrupted), mapped in one place: the same
 * bad argument exits 2, with the same sentence, from every command that takes it — whether the parser,
 * the run spec's check or a later stage (a worker process, a child `supcon train`) finds it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NotFoundError } from '@supcon/dashboard';
import { DatasetError, DatasetNotFoundError, DownloadError } from '@supcon/node';
import { EXIT_USAGE, InvalidArgumentError, UserError } from 'supcon';
import { CliError, EXIT, exitCodeOf } from '../src/command.js';
import { cli, hasFashion } from './helpers.js';

function exits(r: ReturnType<typeof cli>, code: number, pattern: RegExp, what: string): void {
  assert.equal(r.status, code, `${what}: exit ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, pattern, what);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace without --verbose`);
}

test('every user-facing error extends UserError, and its exit code is the one the CLI returns', () => {
  const bad = new InvalidArgumentError('k', 'an integer > 0', 0);
  assert.ok(bad instanceof UserError);
  assert.equal(exitCodeOf(bad), EXIT.usage);
  assert.equal(EXIT_USAGE, EXIT.usage);
  assert.equal(exitCodeOf(new CliError('bad flag')), EXIT.usage);
  assert.equal(exitCodeOf(new UserError('the dataset is damaged')), EXIT.failed);
  assert.equal(exitCodeOf(new Error('a bug')), EXIT.failed);
});

test('the data and dashboard errors are UserErrors: one map gives their codes, no case of their own', () => {
  const failed = [
    new DatasetError('/d/train-labels-idx1-ubyte.gz', 'label 12 at index 5 is outside 0..9'),
    new DatasetNotFoundError('Dataset `mnist` not found: `/d` does not exist.'),
    new DownloadError('Cannot reach http://127.0.0.1:1/x.gz (ECONNREFUSED).'),
    new NotFoundError('No run "a" in the runs folder.'),
  ];
  for (const error of failed) {
    assert.ok(error instanceof UserError, error.name);
    assert.equal(exitCodeOf(error), EXIT.failed, error.name);
  }
  // A request malformed (400) or refused (403) as written is bad usage; a missing run (404) a failure.
  assert.equal(
    exitCodeOf(new NotFoundError('Invalid run id "/x": expected a relative path.', 400)),
    EXIT.usage,
  );
  assert.equal(exitCodeOf(new NotFoundError('Run id "../x" leaves the runs folder.', 403)), EXIT.usage);
  assert.equal(new NotFoundError('No run "a" in the runs folder.').status, 404);
  assert.equal(new DatasetError('/d/f', 'it is empty').name, 'DatasetError');
});

test('a damaged or missing dataset and a failed download each exit 1 with one sentence', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-exit-'));
  const damaged = join(dir, 'damaged');
  mkdirSync(damaged);
  for (const f of [
    'train-images-idx3-ubyte',
    'train-labels-idx1-ubyte',
    't10k-images-idx3-ubyte',
    't10k-labels-idx1-ubyte',
  ])
    writeFileSync(join(damaged, `${f}.gz`), 'not an IDX file');
  exits(
    cli('data', 'inspect', `mnist:${damaged}`),
    1,
    /^supcon: Invalid dataset file `[^`]*train-images-idx3-ubyte\.gz`: wrong magic number [^\n]*\.\n$/,
    'DatasetError (data inspect)',
  );
  exits(
    cli('data', 'inspect', `mnist:${join(dir, 'missing')}`),
    1,
    /^supcon: Dataset `mnist` not found: `[^`]*missing` does not exist; run `supcon data download mnist[^\n]*\.\n$/,
    'DatasetNotFoundError (data inspect)',
  );
  // A dataset argument that names no dataset is a bad argument (2), not a missing dataset (1).
  for (const [spec, expected] of [
    ['bogus', /Expected NAME or NAME:PATH with NAME one of [^\n]*Received: dataset="bogus"\.\n$/],
    ['mnist:', /Expected a path after `mnist:`\. Received: dataset="mnist:"\.\n$/],
    ['folder', /Expected folder:PATH [^\n]*Received: dataset="folder"\.\n$/],
  ] as const) {
    exits(
      cli('data', 'inspect', spec),
      2,
      new RegExp(`^supcon: Invalid value for argument \`dataset\`. ${expected.source}`),
      `dataset ${spec}`,
    );
  }
  // A loopback port nothing listens on: the connection is refused at once, no network is needed.
  const port = await new Promise<number>((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
  exits(
    cli('data', 'download', 'mnist', '--dir', join(dir, 'dl'), '--mirror', `http://127.0.0.1:${port}/`),
    1,
    new RegExp(
      `^supcon: Cannot reach http://127\\.0\\.0\\.1:${port}/train-images-idx3-ubyte\\.gz \\(ECONNREFUSED\\)\\.\\n$`,
    ),
    'DownloadError (data download)',
  );
});

test('a bad training setting exits 2 from train, demo, train --processes, train-distributed and sweep', () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-exit-'));
  // Valid for the parser; refused by the run spec's check (before any data loads, in every command).
  const bad = ['--encoder', 'resnet18', '--width-multiplier', '0.3'];
  const sentence = /argument `model\.widthMultiplier`.*Received: model\.widthMultiplier=0\.3/;
  exits(cli('train', ...bad, '--out', join(dir, 't')), 2, sentence, 'train');
  exits(cli('demo', ...bad, '--out', join(dir, 'd')), 2, sentence, 'demo');
  exits(
    cli('train', '--processes', '2', ...bad, '--out', join(dir, 'p')),
    2,
    sentence,
    'train --processes 2',
  );
  exits(cli('train-distributed', ...bad, '--out', join(dir, 'td')), 2, sentence, 'train-distributed');
  exits(cli('sweep', '--vary', 'seed=1,2', '--out', join(dir, 's'), '--', ...bad), 2, sentence, 'sweep');
});

test('a setting only the data can refuse exits 2 in one process and over several (the worker sends its code)', {
  skip: hasFashion ? false : 'needs Fashion-MNIST',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-exit-'));
  const bad = ['--encoder', 'mlp', '--validation', '70000', '--quiet'];
  const sentence = /argument `validation`.*Received: validation=70000/;
  exits(cli('train', ...bad, '--out', join(dir, 't')), 2, sentence, 'train');
  exits(
    cli('train', '--processes', '2', ...bad, '--out', join(dir, 'p')),
    2,
    sentence,
    'train --processes 2',
  );
});

test('a bad flag value exits 2 from every command that takes the flag', () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-exit-'));
  const run = join(dir, 'run');
  const takesBackend: string[][] = [
    ['train'],
    ['demo'],
    ['train-distributed'],
    ['linear', '--run', run],
    ['eval', '--run', run],
    ['embed', '--run', run, '--out', join(dir, 'e.json')],
    ['predict', '--run', run, 'x.png'],
    ['robustness', '--run', run],
    ['export', run, '--out', join(dir, 'x')],
    ['bench', 'step'],
    ['bench', 'loss'],
    ['bench', 'augment'],
    ['bench', 'overlap'],
    ['bench', 'gradcache'],
  ];
  for (const argv of takesBackend)
    exits(
      cli(...argv, '--backend', 'gpu'),
      2,
      /^supcon: Invalid value for `--backend`\. Expected one of auto, native, cpu\. Received: gpu\.\n$/,
      argv.join(' '),
    );
});

test('a run folder that is not one exits 2 from every command that reads a run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-exit-'));
  const run = join(dir, 'nothing-here');
  const readers: string[][] = [
    ['linear', '--run', run],
    ['eval', '--run', run],
    ['embed', '--run', run, '--out', join(dir, 'e.json')],
    ['predict', '--run', run, 'x.png'],
    ['robustness', '--run', run],
  ];
  for (const argv of readers)
    exits(cli(...argv, '--backend', 'cpu'), 2, /argument `run`.*nothing-here/, argv.join(' '));
});

test('a command group without its sub-command is bad usage (2); with --help it is help (0)', () => {
  const r = cli('bench');
  assert.equal(r.status, 2);
  assert.match(r.stdout, /supcon bench step/);
  assert.equal(cli('bench', '--help').status, 0);
});
