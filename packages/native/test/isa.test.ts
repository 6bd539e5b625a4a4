/**
 * The engine on a CPU without AVX-512: oneDNN capped at AVX2 (`ONEDNN_MAX_CPU_ISA=AVX2`, in a
 * child process) must still run every convolution path in fp32 (Winograd is AVX-512 only in
 * oneDNN, so its shapes fall back to the direct algorithm; the im2col weight gradient is a plain
 * matmul) and agree with the cpu backend; bf16 is reported unavailable.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const program = `
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { bf16Supported, registerNativeBackend } from './src/index.js';
import { rand, relativeError, runOn, withGrads } from './test/harness.js';
registerNativeBackend();
const cases = [
  [[2, 8, 8, 64], [3, 3, 64, 64], 1, 'same'],   // Winograd shape on AVX-512
  [[2, 4, 4, 512], [3, 3, 512, 8], 1, 'same'],  // im2col weight gradient
  [[2, 9, 9, 16], [3, 3, 16, 24], 2, 'same'],   // direct
];
let worst = 0;
for (const [xs, ws, stride, pad] of cases) {
  const program = () => withGrads([rand(xs, 1), rand(ws, 2)], (x, w) => tf.conv2d(x, w, stride, pad));
  const expected = await runOn('cpu', program);
  const actual = await runOn('native', program);
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, relativeError(actual[i], expected[i]));
}
console.log(JSON.stringify({ worst, bf16: bf16Supported() }));
`;

test('fp32 convolutions run and agree with cpu when oneDNN is capped at AVX2; bf16 is unavailable', () => {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', program], {
    cwd: new URL('../', import.meta.url).pathname,
    env: { ...process.env, ONEDNN_MAX_CPU_ISA: 'AVX2' },
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  const { worst, bf16 } = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as {
    worst: number;
    bf16: boolean;
  };
  assert.ok(worst <= 1e-4, `relative error ${worst} against cpu under AVX2`);
  assert.equal(bf16, false);
});
