/**
 * `supcon train-distributed` end to end on a small slice of Fashion-MNIST (2 worker processes, cpu
 * backend, MLP encoder): the ranks end bit-identical, the run folder is read by `supcon linear`; bad
 * flags give one clear sentence and a non-zero exit code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const hasFashion = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

/** One epoch of 4 steps (512 images, batch 128) on 2 processes into `out`, as JSON. */
const trainTwo = (out: string, ...flags: string[]) =>
  cli(
    'train-distributed',
    '--processes',
    '2',
    ...flags,
    '--limit',
    '512',
    '--batch-size',
    '128',
    '--epochs',
    '1',
    '--out',
    out,
    '--json',
  );

function assertCleanError(r: ReturnType<typeof cli>, pattern: RegExp): void {
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
}

test('train-distributed: bad flags give one clear sentence', () => {
  assertCleanError(cli('train-distributed', '--processes', '0'), /`--processes`.*>= 1.*Received: 0/);
  assertCleanError(cli('train-distributed', '--no-prefetch'), /`--no-prefetch`.*do not apply/);
  const dir = mkdtempSync(join(tmpdir(), 'supcon-dp-cli-'));
  assertCleanError(
    cli('train-distributed', '--processes', '4', '--batch-size', '2', '--out', join(dir, 'r')),
    /argument `processes`.*at most the batch size \(2\)/,
  );
  assert.ok(!existsSync(join(dir, 'r', 'config.json')), 'nothing written for a rejected run');
  rmSync(dir, { recursive: true });
});

test('train-distributed: 2 processes, then linear on the run', {
  skip: !hasFashion,
  timeout: 180_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-dp-cli-'));
  const out = join(dir, 'run');
  try {
    const train = trainTwo(out, '--backend', 'cpu', '--encoder', 'mlp');
    assert.equal(train.status, 0, train.stderr);
    const summary = JSON.parse(train.stdout) as {
      iterations: number;
      fingerprints: string[];
      processes: number;
    };
    assert.equal(summary.processes, 2);
    assert.equal(summary.iterations, 4);
    assert.equal(summary.fingerprints[0], summary.fingerprints[1]);
    const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter((l) => l.includes('"step"'));
    assert.equal(steps.length, 4);
    // The run report's record of what started the run, as a one-process train writes it.
    const recorded = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { commandLine: string[] };
    assert.deepEqual(recorded.commandLine.slice(0, 4), ['supcon', 'train-distributed', '--processes', '2']);
    const linear = cli('linear', '--run', out, '--epochs', '1', '--json');
    assert.equal(linear.status, 0, linear.stderr);
    assert.ok((JSON.parse(linear.stdout) as { testAccuracy: number }).testAccuracy > 0.1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// bf16 with several processes: every worker sets the precision, the ranks stay bit-identical.
const bf16Skip = await (async () => {
  if (!hasFashion) return 'Fashion-MNIST is not installed (/usr/share/datasets/fashion-mnist)';
  try {
    const native = (await import('@supcon/native')) as {
      bf16Supported(): boolean;
      nativeLoadError(): string | undefined;
    };
    const why = native.nativeLoadError();
    if (why) return `the native engine does not load: ${why}`;
    return native.bf16Supported() ? false : 'this CPU has neither avx512_bf16 nor AMX: bf16 cannot run here';
  } catch (error) {
    return `the native engine does not load: ${String(error)}`;
  }
})();

test('train-distributed: 2 processes in bf16 on the native engine', {
  skip: bf16Skip,
  timeout: 180_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-dp-bf16-'));
  const out = join(dir, 'run');
  try {
    const train = trainTwo(out, '--backend', 'native', '--precision', 'bf16');
    assert.equal(train.status, 0, train.stderr);
    const result = JSON.parse(train.stdout) as {
      precision: string;
      fingerprints: string[];
      iterations: number;
    };
    assert.equal(result.precision, 'bf16');
    assert.equal(result.iterations, 4);
    assert.equal(result.fingerprints[0], result.fingerprints[1]);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { precision: string };
    assert.equal(config.precision, 'bf16');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
