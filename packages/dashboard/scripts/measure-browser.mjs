#!/usr/bin/env node
// Speed of SupCon training in a browser tab (headless Chromium, the /train page), per backend, A B A:
// webgl, cpu, webgl (or the order given), each in a fresh browser, the same data, model and seed.
// Prints one line per run and a JSON summary (median steps/s, excluding the first 5 steps).
//
//   node packages/dashboard/scripts/measure-browser.mjs [--steps 40] [--batch 128] [--dataset fashion-mnist] [--backends webgl,cpu,webgl]
//
// Needs `npx tsc -b packages/dashboard` first and Chromium on PATH (or CHROMIUM=/path/to/chrome).
// No --virtual-time-budget: it freezes performance.now() and the timings would be meaningless.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDashboard } from '../dist/src/index.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '40' },
    batch: { type: 'string', default: '128' },
    images: { type: 'string', default: '2048' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    backends: { type: 'string', default: 'webgl,cpu,webgl' },
  },
});
const chromium = process.env.CHROMIUM ?? 'chromium';
const runs = mkdtempSync(join(tmpdir(), 'supcon-measure-'));
let pending;
const dashboard = await startDashboard({ runs, port: 0, onClientReport: (r) => pending?.(r) });
const results = [];
try {
  for (const backend of values.backends.split(',')) {
    const profile = mkdtempSync(join(tmpdir(), 'supcon-chromium-'));
    const url = `${dashboard.url}train?auto=1&report=1&backend=${backend}&steps=${values.steps}&batch=${values.batch}&images=${values.images}&dataset=${values.dataset}`;
    const child = spawn(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--enable-unsafe-swiftshader',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        url,
      ],
      { detached: true, stdio: 'ignore' },
    );
    const started = performance.now();
    const report = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${backend}: no report in 300 s`)), 300_000);
      pending = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
    process.kill(-child.pid, 'SIGKILL');
    rmSync(profile, { recursive: true, force: true });
    if (report.error) throw new Error(`${backend}: ${report.error}`);
    const wall = (performance.now() - started) / 1000;
    const l = report.losses;
    console.log(
      `${report.backend.padEnd(6)} ${report.stepsPerSecond.toFixed(2)} steps/s (median step ${(1000 * report.medianStepSeconds).toFixed(0)} ms, ` +
        `${Math.round(report.batchSize / report.medianStepSeconds)} images/s), ${report.steps} steps in ${report.seconds.toFixed(1)} s, ` +
        `page total ${wall.toFixed(1)} s; loss ${l[0].toFixed(3)} -> ${l.at(-1).toFixed(3)}; kNN ${report.knnBefore} -> ${report.knnAfter}`,
    );
    results.push({
      backend: report.backend,
      stepsPerSecond: report.stepsPerSecond,
      medianStepSeconds: report.medianStepSeconds,
      seconds: report.seconds,
      firstLoss: report.firstLoss,
      lastLoss: report.lastLoss,
      knnBefore: report.knnBefore,
      knnAfter: report.knnAfter,
    });
  }
} finally {
  await dashboard.close();
  rmSync(runs, { recursive: true, force: true });
}
console.log(JSON.stringify({ date: new Date().toISOString(), ...values, results }));
