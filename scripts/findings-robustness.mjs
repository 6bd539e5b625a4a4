#!/usr/bin/env node
// The robustness finding (the paper's Fig. 3 at small scale, docs/findings.md) from run folders that
// `supcon robustness` has evaluated, SupCon against cross-entropy seed by seed:
//   node scripts/findings-robustness.mjs --supcon A1,A2,A3 --ce B1,B2,B3 [--name robustness]
// writes docs/findings/<name>.json (per run: clean top-1, mean corruption error, mCE against the
// cross-entropy run of the same seed, relative mCE, mean top-1 and expected calibration error per
// severity; means and standard deviations over seeds; date, CPU) and two figures:
// docs/img/findings-<name>-top1.png (mean top-1 over corruptions against severity, 0 = clean) and
// docs/img/findings-<name>-ece.png (the same for the expected calibration error).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { linePlot, png, writeFileDurable } from '@supcon/node';

const args = process.argv.slice(2);
const get = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && args[i + 1] !== undefined) return args[i + 1];
  if (fallback !== undefined) return fallback;
  console.error(`findings-robustness: missing --${name}. Usage: --supcon DIR,... --ce DIR,... [--name NAME]`);
  process.exit(2);
};
const supconDirs = get('supcon').split(',');
const ceDirs = get('ce').split(',');
const name = get('name', 'robustness');
if (supconDirs.length !== ceDirs.length) {
  console.error(
    `findings-robustness: expected as many --ce runs as --supcon runs (one baseline per seed), received ${ceDirs.length} and ${supconDirs.length}.`,
  );
  process.exit(2);
}

const read = (dir) => {
  const r = JSON.parse(readFileSync(join(dir, 'robustness.json'), 'utf8'));
  if (!r.meanCalibrationErrorBySeverity) {
    console.error(
      `findings-robustness: ${dir}/robustness.json has no calibration errors; rerun \`supcon robustness --run ${dir}\`.`,
    );
    process.exit(2);
  }
  return r;
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));
const round = (x, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/** mCE = mean_c Σ_s E / Σ_s E_base; relative mCE = mean_c Σ_s (E − E_clean) / Σ_s (E_base − E_base,clean). */
function against(r, base) {
  const corruptions = Object.keys(r.accuracy);
  const ce = [];
  const relative = [];
  for (const c of corruptions) {
    const e = r.accuracy[c].map((a) => 1 - a);
    const eb = base.accuracy[c].map((a) => 1 - a);
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    ce.push(sum(e) / sum(eb));
    relative.push(
      sum(e.map((x) => x - (1 - r.cleanAccuracy))) / sum(eb.map((x) => x - (1 - base.cleanAccuracy))),
    );
  }
  return { mCE: mean(ce), relativeMCE: mean(relative) };
}

const runOf = (dir, r, base) => ({
  run: dir,
  cleanTop1: r.cleanAccuracy,
  cleanECE: round(r.cleanCalibrationError),
  meanCorruptionError: round(r.meanCorruptionError),
  ...(base ? Object.fromEntries(Object.entries(against(r, base)).map(([k, v]) => [k, round(v)])) : {}),
  top1BySeverity: r.meanAccuracyBySeverity.map((x) => round(x)),
  eceBySeverity: r.meanCalibrationErrorBySeverity.map((x) => round(x)),
});
const ceRuns = ceDirs.map((d) => read(d));
const supconRuns = supconDirs.map((d) => read(d));
const methods = {
  'cross-entropy': ceRuns.map((r, i) => runOf(ceDirs[i], r)),
  supcon: supconRuns.map((r, i) => runOf(supconDirs[i], r, ceRuns[i])),
};
const summary = (runs) => {
  const field = (f) => ({ mean: round(mean(runs.map(f))), std: round(std(runs.map(f))) });
  const out = {
    cleanTop1: field((r) => r.cleanTop1),
    cleanECE: field((r) => r.cleanECE),
    meanCorruptionError: field((r) => r.meanCorruptionError),
    top1BySeverity: runs[0].top1BySeverity.map((_, s) => field((r) => r.top1BySeverity[s])),
    eceBySeverity: runs[0].eceBySeverity.map((_, s) => field((r) => r.eceBySeverity[s])),
  };
  if (runs[0].mCE !== undefined) {
    out.mCE = field((r) => r.mCE);
    out.relativeMCE = field((r) => r.relativeMCE);
  }
  return out;
};
const cpu = `${cpus()[0]?.model ?? 'unknown'}, family ${readFileSync('/proc/cpuinfo', 'utf8').match(/cpu family\s*:\s*(\d+)/)?.[1] ?? '?'}, ${cpus().length} cores`;
const data = {
  date: new Date().toISOString().slice(0, 10),
  cpu,
  severities: supconRuns[0].severities,
  corruptions: Object.keys(supconRuns[0].accuracy),
  testImages: supconRuns[0].testImages,
  methods,
  summary: Object.fromEntries(Object.entries(methods).map(([m, runs]) => [m, summary(runs)])),
};
writeFileDurable(join('docs/findings', `${name}.json`), `${JSON.stringify(data, null, 1)}\n`);

const colors = { 'cross-entropy': '#d62728', supcon: '#1f77b4' };
const ticks = [0, ...data.severities].map((s) => ({ at: s, label: s === 0 ? 'clean' : String(s) }));
const curve = (pick, clean, scale) =>
  Object.entries(data.summary).map(([m, s]) => ({
    name: `${m} (mean of ${methods[m].length} seeds)`,
    color: colors[m],
    points: [[0, scale * s[clean].mean], ...s[pick].map((v, i) => [data.severities[i], scale * v.mean])],
  }));
const figures = [
  ['top1', 'Mean top-1 over 8 corruptions against severity', 'top-1 %', 'top1BySeverity', 'cleanTop1'],
  ['ece', 'Expected calibration error (15 bins) against severity', 'ECE %', 'eceBySeverity', 'cleanECE'],
];
for (const [suffix, title, yLabel, pick, clean] of figures) {
  const plot = linePlot(title, 'severity', yLabel, curve(pick, clean, 100), ticks);
  await png(plot, join('docs/img', `findings-${name}-${suffix}.png`));
}
console.log(`wrote docs/findings/${name}.json, docs/img/findings-${name}-top1.png and -ece.png`);
