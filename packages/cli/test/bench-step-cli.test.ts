/**
 * `supcon bench step` at tiny sizes: the fields of one in-process measurement, the interleaved
 * comparison against PyTorch in separate processes, the same model on both sides (trainable
 * parameter counts), and one-sentence errors for bad flags.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stepModel } from '../src/step-model.js';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const script = fileURLToPath(new URL('../../../../reference/torch_step.py', import.meta.url));
const python = '/usr/bin/python3';
const tiny = ['--steps', '1', '--warmup', '0', '--batch-size', '2'];

const noTorch =
  spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0
    ? false
    : `${python} cannot import torch (apt-get install python3-torch)`;

function benchStep(args: string[]) {
  return spawnSync(process.execPath, [bin, 'bench', 'step', ...args], { encoding: 'utf8' });
}

function benchStepJson(args: string[]): Record<string, unknown> {
  const r = benchStep([...args, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function torchParams(model: string, flags: string[] = []): number {
  const argv = [script, '--model', model, ...flags, '--params-only', '--json'];
  const r = spawnSync(python, argv, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { params: number }).params;
}

test('bench step --model small-resnet --json reports the step, the CPU and the engine settings', () => {
  const s = benchStepJson([...tiny, '--model', 'small-resnet']);
  for (const key of ['backend', 'precision', 'model', 'cpu', 'cpuFamily', 'threads', 'batchSize', 'views']) {
    assert.ok(key in s, `missing ${key}`);
  }
  assert.equal(s['model'], 'small-resnet');
  assert.equal(s['precision'], 'fp32');
  assert.equal(s['batchSize'], 2);
  assert.equal(s['views'], 2);
  assert.equal(typeof s['cpu'], 'string');
  assert.ok((s['threads'] as number) >= 1);
  assert.ok((s['msPerStep'] as number) > 0 && (s['imagesPerSec'] as number) > 0);
  assert.ok((s['peakRssMiB'] as number) > 0);
  assert.equal(s['torchMsPerStep'], undefined);
});

test('bench step on the cpu backend runs fp32 when bf16 is asked, and says so', () => {
  const r = benchStep([
    ...tiny,
    '--model',
    'small-resnet',
    '--backend',
    'cpu',
    '--precision',
    'bf16',
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(s['backend'], 'cpu');
  assert.equal(s['requestedPrecision'], 'bf16');
  assert.equal(s['precision'], 'fp32');
  assert.match(r.stderr, /no bf16; running fp32/);
});

test('both models have as many trainable parameters as reference/torch_step.py builds', {
  skip: noTorch,
}, () => {
  const small = benchStepJson([...tiny, '--model', 'small-resnet']);
  assert.equal(small['params'], torchParams('small-resnet'));
  const resnet = benchStepJson(['--steps', '1', '--warmup', '0', '--batch-size', '1']);
  assert.equal(resnet['params'], torchParams('resnet18-cifar'));
});

test('bench step --model vit-tiny has as many trainable parameters as the torch ViT of reference/torch_step.py', {
  skip: noTorch,
}, () => {
  const vit = benchStepJson(['--steps', '1', '--warmup', '0', '--batch-size', '1', '--model', 'vit-tiny']);
  assert.equal(vit['model'], 'vit-tiny');
  // vit-tiny on 28×28×1 (2,682,624, docs/models.md) plus the MLP head 192 → 192 → 128.
  assert.equal(vit['params'], 2_682_624 + 192 * 192 + 192 + 192 * 128 + 128);
  assert.equal(vit['params'], torchParams('vit-tiny'));
});

test('bench step --model vit-mini has as many trainable parameters as the torch ViT of reference/torch_step.py', {
  skip: noTorch,
}, () => {
  const vit = benchStepJson(['--steps', '1', '--warmup', '0', '--batch-size', '1', '--model', 'vit-mini']);
  assert.equal(vit['model'], 'vit-mini');
  // vit-mini on 28×28×1 (138,240, docs/models.md) plus the MLP head 64 → 64 → 128.
  assert.equal(vit['params'], 138_240 + 64 * 64 + 64 + 64 * 128 + 128);
  // Both with the flags --compare-torch passes and with the script's own vit-mini defaults.
  assert.equal(vit['params'], torchParams('vit-mini', stepModel('vit-mini').torchArgs));
  assert.equal(vit['params'], torchParams('vit-mini'));
});

test('bench step --compare-torch --rounds 1 interleaves the two sides and reports the ratio', {
  skip: noTorch,
}, () => {
  const s = benchStepJson([...tiny, '--model', 'small-resnet', '--compare-torch', '--rounds', '1']);
  const rounds = s['rounds'] as { torchMs: number; oursMs: number }[];
  assert.equal(rounds.length, 1);
  assert.ok(rounds[0]!.torchMs > 0 && rounds[0]!.oursMs > 0);
  assert.equal(s['msPerStep'], rounds[0]!.oursMs);
  assert.equal(s['torchMsPerStep'], rounds[0]!.torchMs);
  assert.ok(Math.abs((s['ratioToTorch'] as number) - rounds[0]!.oursMs / rounds[0]!.torchMs) < 1e-12);
  const spread = s['spread'] as Record<string, { min: number; max: number }>;
  assert.deepEqual(spread['torch'], { min: rounds[0]!.torchMs, max: rounds[0]!.torchMs });
  assert.equal(s['torchPrecision'], 'fp32');
  assert.equal(s['torchThreads'], 2);
  assert.ok((s['torchPeakRssMiB'] as number) > 0);
  assert.equal(typeof s['cpu'], 'string');
});

test('bad flags give one sentence naming the flag and the value, and exit non-zero', () => {
  const cases: [string[], RegExp][] = [
    [['--precision', 'fp16'], /`--precision`.*fp32, bf16.*Received: fp16/],
    [['--model', 'nope'], /`--model`.*resnet18-cifar, small-resnet.*Received: nope/],
    [['--compare-torch', '--rounds', '0'], /`--rounds`.*>= 1.*Received: 0/],
    [['--rounds', '2'], /`--rounds`.*--compare-torch/],
  ];
  for (const [args, message] of cases) {
    const r = benchStep(args);
    assert.notEqual(r.status, 0, args.join(' '));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, message);
  }
});
