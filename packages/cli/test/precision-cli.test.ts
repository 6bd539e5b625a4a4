/**
 * `--precision fp32|bf16` of `supcon train`, `demo` and `sweep`: validated in one sentence, stored in
 * config.json, passed to the native engine at training start, and the precision in effect reported
 * (--json, summary.json) with one warning line when bf16 cannot run here.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, hasFashion, readJson, tinyTrain } from './helpers.js';

const tiny = tinyTrain(256, 128);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'supcon-precision-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a bad precision is one sentence before anything runs, for train, demo and sweep', () => {
  for (const command of ['train', 'demo']) {
    const r = cli(command, '--precision', 'fp16', '--out', join(dir, command));
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^supcon: Invalid value for `--precision`. Expected one of fp32, bf16. Received: fp16.\n$/,
    );
    assert.equal(existsSync(join(dir, command)), false);
  }
  const sweep = cli('sweep', '--vary', 'precision=fp32,fp16', '--out', join(dir, 'sweep'), '--', ...tiny);
  assert.equal(sweep.status, 2);
  assert.match(sweep.stderr, /precision=fp16` cannot start.*`--precision`.*Received: fp16/);
  assert.equal(existsSync(join(dir, 'sweep', 'precision=fp32')), false);
});

test('the precision is stored, applied at training start and reported as in effect', {
  skip: !hasFashion && 'no Fashion-MNIST',
}, async () => {
  const train = (name: string, ...args: string[]) => {
    const out = join(dir, name);
    const r = cli('train', '--out', out, '--quiet', '--json', ...tiny, ...args);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { backend: string; precision: string };
    const stored = readJson(join(out, 'config.json'))['precision'];
    return { json, stored, summary: readJson(join(out, 'summary.json')), stderr: r.stderr };
  };
  const plain = train('default');
  assert.deepEqual(
    [plain.stored, plain.json.precision, plain.summary['precision']],
    ['fp32', 'fp32', 'fp32'],
  );

  const cpu = train('cpu', '--backend', 'cpu', '--precision', 'bf16');
  assert.deepEqual([cpu.stored, cpu.json.precision, cpu.summary['precision']], ['bf16', 'fp32', 'fp32']);
  assert.match(cpu.stderr, /warning: bf16 runs on the native engine only; the cpu backend trains in fp32/);

  const bf16 = train('bf16', '--precision', 'bf16');
  assert.equal(bf16.stored, 'bf16');
  assert.equal(bf16.summary['precision'], bf16.json.precision);
  if (bf16.json.backend === 'native') {
    const native = await import('@supcon/native');
    const expected = native.bf16Supported() ? 'bf16' : 'fp32';
    assert.equal(bf16.json.precision, expected);
    if (expected === 'fp32')
      assert.match(bf16.stderr, /warning: bf16 is not available \(.+\); training in fp32/);
    else assert.doesNotMatch(bf16.stderr, /warning: bf16/);
  }
});
