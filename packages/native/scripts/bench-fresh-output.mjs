#!/usr/bin/env node
// What a fresh output buffer costs: the backward-data convolution of the largest ResNet-18 layer
// (batch 128, 32×32, 64→64 channels, a 33.5 MB output) into one reused buffer vs into a new
// Buffer.allocUnsafeSlow buffer per call, as the backend allocates kernel outputs. Interleaved,
// medians, with the minor page faults per call (independent of the machine's load).
// Run it as is (the addon's allocator tuning applies) and with SUPCON_NATIVE_MALLOC=system.
import { createRequire } from 'node:module';

const reps = Number(process.argv[process.argv.indexOf('--reps') + 1]) || 15;
const addon = createRequire(import.meta.url)('../build/Release/supcon_native.node');
const shape = [128, 32, 32, 64];
const wShape = [3, 3, 64, 64];
const params = [1, 1, 1, 1, 1, 1, 1, 1];
const n = shape.reduce((a, b) => a * b);
const w = Float32Array.from({ length: 9 * 64 * 64 }, () => Math.random() - 0.5);
const dy = Float32Array.from({ length: n }, () => Math.random() - 0.5);
const fresh = () => new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
const reused = fresh();
const held = []; // a few outputs stay alive, as tensors do between kernels

function run(out) {
  const faults = process.resourceUsage().minorPageFault;
  const start = performance.now();
  addon.conv2dBackpropInput(dy, shape, w, wShape, out, shape, params);
  const ms = performance.now() - start;
  held.push(out);
  if (held.length > 4) held.shift();
  return { ms, faults: process.resourceUsage().minorPageFault - faults };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
run(reused);
run(fresh());
const rows = { reused: [], fresh: [] };
for (let i = 0; i < reps; i++) {
  rows.reused.push(run(reused));
  rows.fresh.push(run(fresh()));
}
console.log(`allocator: ${addon.allocatorMode()}, backward-data conv [128,32,32,64], median of ${reps}`);
for (const [name, r] of Object.entries(rows)) {
  const ms = median(r.map((x) => x.ms)).toFixed(1);
  const faults = median(r.map((x) => x.faults));
  console.log(`${name.padEnd(7)} output: ${ms.padStart(7)} ms, ${faults} minor page faults per call`);
}
