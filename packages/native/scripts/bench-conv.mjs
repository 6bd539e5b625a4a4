#!/usr/bin/env node
// Per-layer convolution throughput of the native addon on the conv shapes of a CIFAR ResNet-18
// (NHWC, batch given by --batch, default 128), or with --model small-resnet of the demo's small ResNet (batch 512): forward, backward-data and backward-weights,
// best of --reps runs (the minimum is the figure least disturbed by other load on the machine).
// --precision bf16 runs the bf16 kernels (bf16 activations and activation gradients, fp32 weights
// and weight gradients, as in training). --peak first prints the engine's practical peak: a 1x1
// convolution of 64x64 pixels x 1024 -> 1024 channels at batch 4, i.e. one 16384x1024x1024 GEMM.
// Compare with: /usr/bin/python3 packages/native/scripts/bench_conv_torch.py --batch 128 [--precision bf16]
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const get = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const mi = args.indexOf('--model');
const model = mi >= 0 ? args[mi + 1] : 'resnet18-cifar';
if (model !== 'resnet18-cifar' && model !== 'small-resnet') {
  console.error(`Invalid value for --model. Expected resnet18-cifar or small-resnet. Received: ${model}.`);
  process.exit(2);
}
const batch = get('batch', model === 'small-resnet' ? 512 : 128);
const reps = get('reps', 5);
const pi = args.indexOf('--precision');
const precision = pi >= 0 ? args[pi + 1] : 'fp32';
if (precision !== 'fp32' && precision !== 'bf16') {
  console.error(`Invalid value for --precision. Expected fp32 or bf16. Received: ${precision}.`);
  process.exit(2);
}
const bf16 = precision === 'bf16';
const addon = createRequire(import.meta.url)('../build/Release/supcon_native.node');
if (bf16 && !addon.bf16Supported()) {
  console.error('bf16 is not available on this CPU (oneDNN finds neither avx512_bf16 nor AMX).');
  process.exit(2);
}

/** An activation of n random values in [-0.5, 0.5), in the benchmark's storage. */
function activation(n) {
  const f = Float32Array.from({ length: n }, () => Math.random() - 0.5);
  if (!bf16) return f;
  const h = new Uint16Array(n);
  addon.narrowToBf16(f, h);
  return h;
}
const empty = (n) => (bf16 ? new Uint16Array(n) : new Float32Array(n));

// [input size, in channels, out channels, kernel, stride]
const resnet18 = [
  [32, 3, 64, 3, 1],
  [32, 64, 64, 3, 1],
  [32, 64, 128, 3, 2],
  [16, 128, 128, 3, 1],
  [32, 64, 128, 1, 2],
  [16, 128, 256, 3, 2],
  [8, 256, 256, 3, 1],
  [16, 128, 256, 1, 2],
  [8, 256, 512, 3, 2],
  [4, 512, 512, 3, 1],
  [8, 256, 512, 1, 2],
];
// The demo's small ResNet (width 16, stride-2 stem, one block per stage) on 28x28x1; batch 512 = 256 x 2 views.
const smallResNet = [
  [28, 1, 16, 3, 2],
  [14, 16, 16, 3, 1],
  [14, 16, 32, 3, 2],
  [7, 32, 32, 3, 1],
  [14, 16, 32, 1, 2],
  [7, 32, 64, 3, 2],
  [4, 64, 64, 3, 1],
  [7, 32, 64, 1, 2],
];
const layers = model === 'small-resnet' ? smallResNet : resnet18;

function best(fn) {
  fn();
  let t = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    fn();
    t = Math.min(t, performance.now() - s);
  }
  return t;
}

if (args.includes('--peak')) {
  const [n, hw, c] = [4, 64, 1024];
  const px = activation(n * hw * hw * c);
  const pw = Float32Array.from({ length: c * c }, () => Math.random() - 0.5);
  const py = empty(n * hw * hw * c);
  const ms = best(() =>
    addon.conv2d(
      px,
      [n, hw, hw, c],
      pw,
      [1, 1, c, c],
      py,
      [n, hw, hw, c],
      [1, 1, 1, 1, 0, 0, 0, 0],
      null,
      0,
      bf16,
    ),
  );
  const gflop = (2 * n * hw * hw * c * c) / 1e9;
  console.log(
    `practical peak (${precision}, 16384x1024x1024 GEMM as a 1x1 conv): ${(gflop / (ms / 1000)).toFixed(0)} GFLOP/s`,
  );
}

const rows = [];
for (const [size, cin, cout, k, stride] of layers) {
  const out = Math.ceil(size / stride);
  const pad =
    k === 1
      ? [0, 0, 0, 0]
      : (() => {
          const total = Math.max(0, (out - 1) * stride + k - size);
          const lo = Math.floor(total / 2);
          return [lo, lo, total - lo, total - lo];
        })();
  const xShape = [batch, size, size, cin];
  const wShape = [k, k, cin, cout];
  const yShape = [batch, out, out, cout];
  const params = [stride, stride, 1, 1, ...pad];
  const x = activation(xShape.reduce((a, b) => a * b));
  const w = Float32Array.from({ length: wShape.reduce((a, b) => a * b) }, () => Math.random() - 0.5);
  const y = activation(yShape.reduce((a, b) => a * b));
  const dx = empty(x.length);
  const dw = new Float32Array(w.length);
  const gflop = (2 * batch * out * out * cout * cin * k * k) / 1e9;
  const out2 = empty(y.length);
  const fwd = best(() => addon.conv2d(x, xShape, w, wShape, out2, yShape, params, null, 0, bf16));
  const bwdData = best(() => addon.conv2dBackpropInput(y, yShape, w, wShape, dx, xShape, params, bf16));
  const bwdWeights = best(() => addon.conv2dBackpropFilter(x, xShape, y, yShape, dw, wShape, params, bf16));
  rows.push({ layer: `${size}x${size} ${cin}->${cout} k${k} s${stride}`, gflop, fwd, bwdData, bwdWeights });
}
let total = 0;
let totalFlop = 0;
console.log(`native conv (${precision}), batch ${batch}, best of ${reps} (ms and GFLOP/s)`);
for (const r of rows) {
  const g = (ms) => `${ms.toFixed(1).padStart(7)} ms ${(r.gflop / (ms / 1000)).toFixed(0).padStart(4)}`;
  console.log(
    `${r.layer.padEnd(26)} fwd ${g(r.fwd)}  bwd-data ${g(r.bwdData)}  bwd-weights ${g(r.bwdWeights)}`,
  );
  total += r.fwd + r.bwdData + r.bwdWeights;
  totalFlop += 3 * r.gflop;
}
console.log(
  `all listed layers once: ${total.toFixed(0)} ms, ${(totalFlop / (total / 1000)).toFixed(0)} GFLOP/s`,
);
