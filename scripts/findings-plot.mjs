#!/usr/bin/env node
// Turns one finished `supcon sweep` into a findings figure and its data (docs/findings.md):
//   node scripts/findings-plot.mjs --sweep runs/study/temperature --name temperature \
//     --title "SupCon: top-1 vs temperature" --xlabel "temperature τ"
// writes docs/findings/<name>.json (per run: the swept value, test and validation top-1 of the
// linear probe, kNN test top-1, training seconds; plus date, CPU and the sweep's command) and
// docs/img/findings-<name>.png (test and validation top-1 against the swept value, one tick per value).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { linePlot, png, writeFileDurable } from '@supcon/node';

const args = process.argv.slice(2);
const get = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && args[i + 1] !== undefined) return args[i + 1];
  if (fallback === undefined) {
    console.error(
      `findings-plot: missing --${name}. Usage: --sweep DIR --name NAME [--title T] [--xlabel X] [--root DIR]`,
    );
    process.exit(2);
  }
  return fallback;
};
const sweepDir = get('sweep');
const name = get('name');
const title = get('title', `top-1 vs ${name}`);
const xLabel = get('xlabel', name);
const root = get('root', process.cwd()); // where the sweep's relative run paths start

const sweep = JSON.parse(readFileSync(join(sweepDir, 'sweep.json'), 'utf8'));
const runs = sweep.runs.map((r) => {
  const summary = JSON.parse(readFileSync(join(root, r.run, 'summary.json'), 'utf8'));
  return {
    value: r.value,
    testAccuracy: summary.testAccuracy,
    validationAccuracy: summary.validationAccuracy,
    knnTestTop1: summary.knn?.test?.top1 ?? null,
    trainSeconds: Math.round(summary.trainSeconds * 10) / 10,
  };
});
const cpu = `${cpus()[0]?.model ?? 'unknown'}, family ${readFileSync('/proc/cpuinfo', 'utf8').match(/cpu family\s*:\s*(\d+)/)?.[1] ?? '?'}, ${cpus().length} cores`;
const data = {
  date: new Date().toISOString().slice(0, 10),
  cpu,
  command: `npx supcon sweep --vary ${sweep.vary}=${sweep.values.join(',')} --out ${dirname(sweep.runs[0]?.run ?? sweepDir)} -- ${sweep.trainFlags.join(' ')}`,
  vary: sweep.vary,
  runs,
};
writeFileDurable(join('docs/findings', `${name}.json`), `${JSON.stringify(data, null, 1)}\n`);
const at = (i) => i; // one evenly spaced tick per swept value (they are often log-spaced)
const series = [
  {
    name: 'test top-1 (linear probe)',
    color: '#1f77b4',
    points: runs.map((r, i) => [at(i), 100 * r.testAccuracy]),
  },
  {
    name: 'validation top-1',
    color: '#ff7f0e',
    points: runs.map((r, i) => [at(i), 100 * r.validationAccuracy]),
  },
];
const ticks = runs.map((r, i) => ({ at: at(i), label: String(r.value) }));
await png(linePlot(title, xLabel, 'top-1 %', series, ticks), join('docs/img', `findings-${name}.png`));
console.log(`wrote docs/findings/${name}.json and docs/img/findings-${name}.png (${runs.length} runs)`);
