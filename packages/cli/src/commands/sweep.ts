/**
 * `supcon sweep --vary NAME=V1,V2,... --out DIR -- [train flags]`: the paper's sensitivity studies
 * (temperature, batch size, learning rate, augmentation, method, ...) as one command. Each value gets
 * its own run folder DIR/NAME=VALUE, trained and probed in a child process (`supcon train` then
 * `supcon linear`), so memory is returned between runs and a killed sweep resumes where it stopped:
 * finished runs are skipped and an interrupted one continues with `--resume`.
 *
 * Writes DIR/sweep.json (after every run, atomically) and DIR/sweep.png (test and validation top-1
 * against the value).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ensureOutputFolder,
  linePlot,
  png,
  type RunSpec,
  readSummary,
  resolveRunSpec,
  runFiles,
  specDifferences,
  updateSummary,
  writeFileDurable,
} from '@supcon/node';
import { UserError } from 'supcon';
import { CliError, type Command, EXIT } from '../command.js';
import { parseFlags } from '../flags.js';
import { trainCommandFlagSpecs } from './train.js';
import { SWEEP_VARIABLES as VARIABLE } from './train-flags.js';
import { specFromFlags } from './train-spec.js';

export interface SweepRun {
  value: string;
  run: string;
  /** Linear-probe test top-1; null when the dataset has no test split (a flat folder). */
  testAccuracy: number | null;
  validationAccuracy: number;
  /** Cross-entropy runs: the model's own classifier, read end to end on the test set. */
  classifierTestAccuracy?: number;
  trainSeconds: number;
}

const pct = (x: number | null) => (x === null ? 'n/a' : (100 * x).toFixed(2));

const bin = fileURLToPath(new URL('../../../bin/supcon.js', import.meta.url));

/** Runs `supcon ARGS` in a child process; its stderr is kept (for the error) and, unless quiet, shown. */
export function supcon(args: string[], quiet: boolean): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  const stderr = r.stderr ?? '';
  if (!quiet && stderr !== '') process.stderr.write(stderr);
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr };
}

/** The reason a child failed: its last stderr line, or its exit status when it printed none. */
export function lastLine(r: { status: number; stderr: string }): string {
  const line = r.stderr
    .trim()
    .split('\n')
    .at(-1)
    ?.replace(/^supcon: /, '');
  return line || `exit code ${r.status}, nothing on stderr`;
}

/** The spec `supcon train ARGS` would train, checked in this process (nothing is trained). */
function requestedSpec(run: string, args: string[]): RunSpec {
  try {
    const { flags, positionals } = parseFlags(args, trainCommandFlagSpecs);
    if (positionals.length > 0) throw new CliError(`unexpected argument \`${positionals[0]}\``);
    return specFromFlags(flags);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    throw new CliError(
      `Run \`${run}\` cannot start, so nothing was trained: ${error.message}`,
      error.exitCode,
    );
  }
}

/** How the spec recorded in `run`'s config.json differs from `spec` (empty: none, or no run yet). */
function staleFields(run: string, spec: RunSpec): string[] {
  const file = runFiles(run).config;
  if (!existsSync(file)) return [];
  let recorded: unknown;
  try {
    recorded = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return ['its config.json is not valid JSON'];
  }
  // Fields added since the run was recorded count as their defaults (what that run trained with).
  let resolved: unknown;
  try {
    resolved = resolveRunSpec(recorded as RunSpec);
  } catch (error) {
    return [`its config.json is not a valid run spec (${(error as Error).message})`];
  }
  return specDifferences(resolved, spec).map((d) => d.replace(' → ', ' recorded, requested '));
}

export function lastJson(stdout: string, what: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new CliError(`${what} printed no JSON summary (last line: ${line.slice(0, 200)}).`, EXIT.failed);
  }
}

/** One run of a sweep, checked before anything trains: its folder, its spec, and how a folder already there differs. */
export interface PlannedRun {
  value: string;
  run: string;
  spec: RunSpec;
  /** How the spec recorded in the folder differs from the requested one (empty: none, or no run yet). */
  stale: string[];
}

/** A sweep ready to run: what `supcon sweep --vary VARY=VALUES --out OUT -- TRAINFLAGS` would train. */
export interface SweepPlan {
  out: string;
  vary: string;
  values: string[];
  trainFlags: string[];
  runs: PlannedRun[];
}

/**
 * Every run's spec, and whether its folder already holds a run trained differently, before any
 * training: nothing is written. Throws (one sentence) for a train flag the sweep sets itself or a
 * value `supcon train` would refuse.
 */
export function planSweep(out: string, vary: string, values: string[], trainFlags: string[]): SweepPlan {
  for (const f of ['--out', '--resume', `--${vary}`, '--json'])
    if (trainFlags.includes(f) || trainFlags.some((a) => a.startsWith(`${f}=`)))
      throw new CliError(`Train flag \`${f}\` is set by the sweep itself; remove it after \`--\`.`);
  const runs = values.map((value) => {
    const run = join(out, `${vary}=${value}`);
    const spec = requestedSpec(run, [...trainFlags, `--${vary}`, value]);
    return { value, run, spec, stale: staleFields(run, spec) };
  });
  return { out, vary, values, trainFlags, runs };
}

/** Refuses runs whose folders hold other settings, unless `rerunStale` (they are then retrained). */
export function refuseStale(runs: readonly PlannedRun[], rerunStale: boolean): void {
  const stale = runs.filter((p) => p.stale.length > 0);
  if (stale.length > 0 && !rerunStale) {
    const first = stale[0]!;
    throw new CliError(
      `Run folder \`${first.run}\` was trained with other settings than requested (${first.stale.join('; ')})` +
        `${stale.length > 1 ? ` and so were ${stale.length - 1} more run folder(s) of this sweep` : ''}; ` +
        'pass --rerun-stale to delete and retrain them, or choose another --out.',
    );
  }
}

/** Where a planned run stands: what the next sweep call does with it. */
export type RunState = 'finished' | 'to probe' | 'to resume' | 'to train' | 'stale';

/** The linear-probe epochs a run is probed with: the sweep's `--probe-epochs`, else its config's. */
const probeEpochsOf = (p: PlannedRun, probeEpochs: number | undefined) => probeEpochs ?? p.spec.probeEpochs;

/**
 * Whether a run's summary holds the evaluation the sweep asks for: a run trained with a joint probe
 * is evaluated by it (`supcon linear --joint`, nothing fitted), any other by a probe of `probeEpochs`.
 */
function probed(spec: RunSpec, summary: Record<string, unknown>, probeEpochs: number): boolean {
  if (spec.train.jointProbe) return summary['probe'] === 'joint';
  return summary['probe'] === undefined && summary['probeEpochs'] === probeEpochs;
}

export function runState(p: PlannedRun, probeEpochs?: number): RunState {
  if (p.stale.length > 0) return 'stale';
  const summary = readSummary(p.run);
  // Probed: every evaluation records a validation top-1 (a dataset without a test split has no test one).
  if (typeof summary['validationAccuracy'] === 'number')
    return probed(p.spec, summary, probeEpochsOf(p, probeEpochs)) ? 'finished' : 'to probe';
  return existsSync(runFiles(p.run).checkpoint) ? 'to resume' : 'to train';
}

export interface SweepOptions {
  probeEpochs?: number;
  quiet: boolean;
  /** Called after each run with its result and whether this call trained or probed it. */
  onRun?: (record: SweepRun, worked: boolean) => void;
}

/**
 * Trains and probes every run of `plan` that is not finished, one child process each (`supcon train`,
 * then `supcon linear`), deleting stale folders first; writes OUT/sweep.json after every run.
 */
export function runSweep(plan: SweepPlan, options: SweepOptions): SweepRun[] {
  const { out, vary: name, values, trainFlags } = plan;
  const { quiet } = options;
  const say = (line: string) => {
    if (!quiet) console.error(line);
  };
  ensureOutputFolder('out', out);
  const runs: SweepRun[] = [];
  const save = () =>
    writeFileDurable(
      join(out, 'sweep.json'),
      `${JSON.stringify({ vary: name, values, trainFlags, runs }, null, 2)}\n`,
    );
  for (const [i, { value, run, spec, stale }] of plan.runs.entries()) {
    const tag = `[${i + 1}/${values.length}] ${name}=${value}`;
    if (stale.length > 0) {
      say(`${tag}: deleting the stale run ${run} (${stale.join('; ')})`);
      rmSync(run, { recursive: true, force: true });
    }
    const probeEpochs = options.probeEpochs ?? spec.probeEpochs;
    const summaryFile = runFiles(run).summary;
    let summary = readSummary(run);
    // Probed: every evaluation records a validation top-1 (a dataset without a test split has no test one).
    const trained = typeof summary['validationAccuracy'] === 'number';
    if (!trained) {
      say(`${tag}: training ${run}`);
      const resume = existsSync(runFiles(run).checkpoint) ? ['--resume'] : [];
      const t = supcon(
        ['train', '--out', run, ...resume, ...trainFlags, `--${name}`, value, '--json', '--quiet'],
        quiet,
      );
      // A train command line refused as written (2) is this sweep's command line refused.
      if (t.status !== 0)
        throw new CliError(
          `Run ${name}=${value} failed to train: ${lastLine(t)}`,
          t.status === EXIT.usage ? EXIT.usage : EXIT.failed,
        );
      const result = lastJson(t.stdout, `supcon train --out ${run}`);
      // The whole training time, over the processes that trained it (`seconds` is this one's only).
      const seconds = typeof result['trainSeconds'] === 'number' ? result['trainSeconds'] : result['seconds'];
      summary = updateSummary(run, { trainSeconds: seconds, resumedFrom: result['resumedFrom'] });
    }
    const probe = !trained || !probed(spec, summary, probeEpochs);
    if (probe) {
      if (trained)
        say(
          `${tag}: probing again with ${probeEpochs} epochs (was ${summary['probeEpochs'] ?? 'unrecorded'})`,
        );
      const how = spec.train.jointProbe ? ['--joint'] : ['--epochs', String(probeEpochs)];
      const l = supcon(['linear', '--run', run, '--json', ...how], quiet);
      if (l.status !== 0)
        throw new CliError(`Run ${name}=${value}: the linear probe failed: ${lastLine(l)}`, EXIT.failed);
      lastJson(l.stdout, `supcon linear --run ${run}`);
      summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, unknown>;
    }
    const trainSeconds = summary['trainSeconds'];
    const test = summary['testAccuracy'];
    const own = summary['classifierTestAccuracy'];
    const record: SweepRun = {
      value,
      run,
      testAccuracy: typeof test === 'number' ? test : null,
      validationAccuracy: summary['validationAccuracy'] as number,
      trainSeconds: typeof trainSeconds === 'number' ? trainSeconds : Number.NaN,
    };
    if (typeof own === 'number') record.classifierTestAccuracy = own;
    runs.push(record);
    save();
    options.onRun?.(record, probe);
    if (!quiet)
      console.error(
        `${tag}: ` +
          (record.testAccuracy === null
            ? `validation top-1 ${pct(record.validationAccuracy)}% (the dataset has no test split)`
            : `test top-1 ${pct(record.testAccuracy)}%`),
      );
  }
  return runs;
}

/** OUT/sweep.png: test and validation top-1 against the value. */
export async function sweepFigure(plan: SweepPlan, runs: readonly SweepRun[]): Promise<void> {
  const { vary: name, values, out } = plan;
  // Evenly spaced points labelled with the values (temperatures and batch sizes are not linear scales).
  const ticks = values.map((v, k) => ({ at: k, label: v }));
  await png(
    linePlot(
      `Linear-probe top-1 against ${name}`,
      name,
      'top-1',
      [
        ...(runs.some((r) => r.testAccuracy === null)
          ? []
          : [
              {
                name: 'test',
                points: runs.map((r, k): [number, number] => [k, r.testAccuracy ?? 0]),
                color: '#d62728',
              },
            ]),
        { name: 'validation', points: runs.map((r, k) => [k, r.validationAccuracy]), color: '#1f77b4' },
      ],
      ticks,
    ),
    join(out, 'sweep.png'),
  );
}

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'Train and probe one run per value of a hyperparameter; table, JSON and plot',
  help: [
    'Usage: supcon sweep --vary NAME=V1,V2,... --out DIR [--probe-epochs N] [--rerun-stale] [--quiet] [--json] [-- TRAIN FLAGS]',
    '',
    'Runs `supcon train` and `supcon linear` once per value (DIR/NAME=VALUE), each in its own process;',
    "rerunning the same command skips finished runs and resumes an interrupted one. Every run's settings",
    'are checked before the first one trains. A run folder whose config.json differs from the requested',
    'settings (other train flags after `--`) is refused with the fields that differ, unless --rerun-stale.',
    'Writes DIR/sweep.json and DIR/sweep.png. Flags after `--` go to every `supcon train`.',
    '',
    `  --vary NAME=V,..   NAME one of: ${VARIABLE.join(', ')}`,
    '  --out DIR          the sweep folder (required)',
    '  --probe-epochs N   linear-probe epochs (default: the run config); a finished run probed with',
    '                     other epochs is probed again',
    '  --rerun-stale      delete and retrain run folders trained with other settings than requested',
    '',
    "Example (the paper's temperature study, quick version):",
    '  npx supcon sweep --vary temperature=0.05,0.1,0.2,0.5 --out runs/tau -- --epochs 3',
  ].join('\n'),
  async run(argv) {
    const split = argv.indexOf('--');
    const own = split >= 0 ? argv.slice(0, split) : argv;
    const trainFlags = split >= 0 ? argv.slice(split + 1) : [];
    const { flags } = parseFlags(own, {
      vary: { kind: 'string' },
      out: { kind: 'string' },
      'probe-epochs': { kind: 'int', min: 1 },
      quiet: { kind: 'boolean' },
      'rerun-stale': { kind: 'boolean' },
    });
    const vary = flags['vary'] as string | undefined;
    const out = flags['out'] as string | undefined;
    if (vary === undefined) throw new CliError('Flag `--vary NAME=V1,V2,...` is required.');
    if (out === undefined) throw new CliError('Flag `--out DIR` is required: the sweep folder.');
    const eq = vary.indexOf('=');
    const name = eq > 0 ? vary.slice(0, eq) : '';
    const values =
      eq > 0
        ? vary
            .slice(eq + 1)
            .split(',')
            .map((v) => v.trim())
        : [];
    if (!VARIABLE.includes(name) || values.length === 0 || values.includes(''))
      throw new CliError(
        `Invalid value for \`--vary\`. Expected NAME=V1,V2,... with NAME one of ${VARIABLE.join(', ')}. Received: ${vary}.`,
      );
    if (new Set(values).size !== values.length)
      throw new CliError(`Invalid value for \`--vary\`. Expected distinct values. Received: ${vary}.`);
    const quiet = flags['quiet'] === true || flags['json'] === true;
    const plan = planSweep(out, name, values, trainFlags);
    refuseStale(plan.runs, flags['rerun-stale'] === true);
    const probeEpochs = flags['probe-epochs'] as number | undefined;
    const runs = runSweep(plan, { quiet, ...(probeEpochs !== undefined ? { probeEpochs } : {}) });
    await sweepFigure(plan, runs);
    if (flags['json']) console.log(JSON.stringify({ vary: name, runs }));
    else {
      console.log(`${name.padEnd(16)} test top-1  validation top-1`);
      for (const r of runs)
        console.log(
          `${r.value.padEnd(16)} ${pct(r.testAccuracy).padStart(10)}  ${pct(r.validationAccuracy).padStart(16)}`,
        );
      console.log(`Wrote ${join(out, 'sweep.json')} and ${join(out, 'sweep.png')}.`);
    }
    return 0;
  },
};
