/**
 * `supcon study NAME --out DIR [--seeds 1,2,3] [--values V,...] [--dry-run] [-- TRAIN FLAGS]`: one
 * finding of docs/findings.md end to end. The study's sweeps (study/studies.ts) run through the
 * sweep's own machinery (`planSweep` / `runSweep`: one child process per training and per probe,
 * finished runs skipped, an interrupted one resumed); the robustness study then runs
 * `supcon robustness` per seed; then the study writes DIR/findings/NAME.json (every run and the
 * mean ± std over seeds), DIR/findings/NAME.md (the summary table) and DIR/findings/findings-NAME.png,
 * each atomically. Every run is checked before the first trains.
 */
import { join } from 'node:path';
import { ensureOutputFolder, writeFileDurable } from '@supcon/node';
import { check, parseCorruptions } from 'supcon';
import { CliError, type Command, EXIT } from '../command.js';
import { cpuInfo } from '../cpu.js';
import { parseFlags } from '../flags.js';
import {
  accuracyFigure,
  accuracyTable,
  groupRuns,
  readRun,
  type StudyRun,
  selectOnValidation,
} from '../study/results.js';
import {
  groupRobustness,
  type RobustnessJob,
  type RobustnessSettings,
  readRobustness,
  robustnessArgs,
  robustnessDone,
  robustnessFigures,
  robustnessJobs,
  robustnessTable,
} from '../study/robustness.js';
import { sensitivityFigure, sensitivityFindings, sensitivityTable } from '../study/sensitivity-results.js';
import { STUDIES, STUDY_NAMES, type Study, studyNamed, sweepCalls } from '../study/studies.js';
import { lastLine, planSweep, refuseStale, runState, runSweep, supcon, sweepFigure } from './sweep.js';
import { formatTime } from './train-output.js';

const list = (raw: string) => raw.split(',').map((v) => v.trim());

function parseSeeds(raw: string | undefined, study: Study): number[] {
  if (raw === undefined) return [...study.seeds];
  const seeds = list(raw);
  check(
    seeds.every((s) => /^\d+$/.test(s)) && new Set(seeds).size === seeds.length,
    '--seeds',
    'a comma list of distinct integers >= 0',
    raw,
  );
  return seeds.map(Number);
}

function parseValues(raw: string | undefined, name: string, study: Study): string[] {
  if (raw === undefined) return [...study.values];
  check(
    study.fixedValues !== true,
    '--values',
    `no --values for study ${name} (it compares ${study.values.join(' with ')})`,
    raw,
  );
  const values = list(raw);
  check(
    values.length > 0 && values.every((v) => study.accepts(v)) && new Set(values).size === values.length,
    '--values',
    `${study.expected}, distinct`,
    raw,
  );
  return values;
}

/** `--map SWEEP=FOLDER,...`: sweeps of the study kept under another folder name (relative to --out). */
function parseMap(raw: string | undefined, sweeps: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  if (raw === undefined) return map;
  for (const pair of list(raw)) {
    const eq = pair.indexOf('=');
    const [name, folder] = [pair.slice(0, eq), pair.slice(eq + 1)];
    check(
      eq > 0 && sweeps.includes(name) && folder !== '',
      '--map',
      `SWEEP=FOLDER pairs with SWEEP one of this study's sweeps (${sweeps.join(', ')})`,
      raw,
    );
    map.set(name, folder);
  }
  return map;
}

function robustnessSettings(flags: Record<string, unknown>, study: Study, name: string): RobustnessSettings {
  for (const f of ['corruptions', 'severities', 'robustness-limit'])
    if (!study.robustness && flags[f] !== undefined)
      throw new CliError(
        `Flag \`--${f}\` applies to the robustness study only; study ${name} runs no corruptions.`,
      );
  const severities = list((flags['severities'] as string | undefined) ?? '1,2,3,4,5');
  check(
    severities.every((s) => /^[1-5]$/.test(s)) && new Set(severities).size === severities.length,
    '--severities',
    'a comma list of distinct integers from 1 to 5',
    flags['severities'],
  );
  const limit = flags['robustness-limit'] as number | undefined;
  return {
    corruptions: parseCorruptions((flags['corruptions'] as string | undefined) ?? 'all'),
    severities: severities.map(Number),
    ...(limit !== undefined ? { limit } : {}),
  };
}

/** The progress line on stderr after each piece of work: what is done and the time left at this rate. */
function progress(name: string, total: number, toDo: number, quiet: boolean) {
  const started = performance.now();
  let done = total - toDo;
  let worked = 0;
  let last = started;
  return (what: string, work: boolean) => {
    const now = performance.now();
    if (!work) return;
    done++;
    worked++;
    const elapsed = (now - started) / 1000;
    const left = (elapsed / worked) * (total - done);
    if (!quiet)
      console.error(
        `study ${name}: ${done}/${total} done, ${what} took ${formatTime((now - last) / 1000)}; ` +
          `${formatTime(elapsed)} elapsed, about ${formatTime(left)} left`,
      );
    last = now;
  };
}

const HELP = [
  'Usage: supcon study NAME --out DIR [--seeds 1,2,3] [--values V,...] [--map SWEEP=FOLDER,...] [--dry-run]',
  '                    [--rerun-stale] [--quiet] [--json] [-- EXTRA TRAIN FLAGS]',
  '',
  'Regenerates one finding of docs/findings.md end to end: its runs (one `supcon sweep` per curve, each',
  'training and linear probe in a child process), `supcon robustness` where the finding needs it, then',
  'DIR/findings/NAME.json (every run, mean ± std over seeds, the value selected on the validation split),',
  'DIR/findings/NAME.md (the summary table) and DIR/findings/findings-NAME.png, each written atomically.',
  'Rerunning skips finished runs and resumes an interrupted one; every run is checked before any trains.',
  'Runs live in DIR/SWEEP/KNOB=VALUE as the chunks of docs/findings.md ran them (DIR/table2-supcon/seed=1,',
  'DIR/temperature/temperature=0.1 for the default seed 0, DIR/temperature-seed1/... for seed 1).',
  '',
  'Studies (the runs: `--method M --precision bf16` on the fashion-quick preset, plus the knob; demo in fp32):',
  ...STUDY_NAMES.map((n) => `  ${n.padEnd(12)} ${STUDIES[n]!.summary}`),
  '',
  '  --out DIR            the study folder (required), e.g. runs/study',
  '  --seeds S,...        seeds (default: table2, robustness, epochs, recipe, vit 1,2,3; the others 0)',
  '  --values V,...       the x values: methods (table2), epochs, temperatures, batch sizes, RandAugment',
  '                       magnitudes; sensitivity: changes from the recipe (augment=supcon,lr=0.2,...);',
  '                       recipe: arms (baseline, balanced, joint-probe); demo: arms (w16-e25,',
  '                       w16-e25-lr0.4, w24-e15, w32-e12, w24-e30-v1)',
  '  --map SWEEP=FOLDER   use runs kept under another folder of DIR (e.g. table2-ce=table2-ce-e2e)',
  '  --dry-run            print the runs and evaluations it would do and which are finished; train nothing',
  '  --rerun-stale        delete and retrain run folders trained with other settings than requested',
  '  --corruptions L      robustness: "all" (default) or a comma list of corruptions',
  '  --severities S       robustness: severities 1..5 (default all five)',
  '  --robustness-limit N robustness: the first N test images (default all)',
  '  --quiet              no progress on stderr (default: a line per finished piece of work, time left)',
  '  --json               print the study data as one JSON object',
  '',
  'Example (what would run, then the τ study of docs/findings.md, reusing its runs):',
  '  npx supcon study temperature --out runs/study --dry-run',
  '  npx supcon study temperature --out runs/study',
  'Example (about a minute, tiny data):',
  '  npx supcon study temperature --out /tmp/tau --values 0.1,0.5 --seeds 1,2 -- --encoder mlp --limit 512 --epochs 1',
].join('\n');

export const studyCommand: Command = {
  name: 'study',
  summary: 'Regenerate one finding (runs, probes, robustness, figure, data, table) from docs/findings.md',
  help: HELP,
  async run(argv) {
    const split = argv.indexOf('--');
    const own = split >= 0 ? argv.slice(0, split) : argv;
    const extra = split >= 0 ? argv.slice(split + 1) : [];
    const { flags, positionals } = parseFlags(own, {
      out: { kind: 'string' },
      seeds: { kind: 'string' },
      values: { kind: 'string' },
      map: { kind: 'string' },
      'dry-run': { kind: 'boolean' },
      'rerun-stale': { kind: 'boolean' },
      corruptions: { kind: 'string' },
      severities: { kind: 'string' },
      'robustness-limit': { kind: 'int', min: 1 },
      quiet: { kind: 'boolean' },
    });
    check(
      positionals.length <= 1,
      'NAME',
      `one study name (${STUDY_NAMES.join(', ')})`,
      positionals.join(' '),
    );
    const name = positionals[0];
    const study = studyNamed(name);
    const out = flags['out'] as string | undefined;
    if (out === undefined)
      throw new CliError('Flag `--out DIR` is required: the study folder, e.g. runs/study.');
    const seeds = parseSeeds(flags['seeds'] as string | undefined, study);
    const values = parseValues(flags['values'] as string | undefined, name!, study);
    for (const f of [...study.sets, '--out', '--resume', '--json'])
      if (extra.some((a) => a === f || a.startsWith(`${f}=`)))
        throw new CliError(`Train flag \`${f}\` is set by study ${name} itself; remove it after \`--\`.`);
    const map = parseMap(
      flags['map'] as string | undefined,
      study.sweeps(values).map((d) => d.name),
    );
    const settings = robustnessSettings(flags, study, name!);
    const quiet = flags['quiet'] === true;

    // Every sweep and run checked (specs, stale folders) before anything is written.
    const calls = sweepCalls(study, values, seeds, extra, out, map);
    const plans = calls.map((c) => ({ call: c, plan: planSweep(c.dir, c.vary, c.values, c.trainFlags) }));
    const runs = plans.flatMap(({ call, plan }) =>
      plan.runs.map((p) => ({
        sweep: call.dir,
        method: call.def.method,
        x: call.vary === 'seed' ? call.def.x! : (call.def.point?.(p.value) ?? p.value),
        seed: call.vary === 'seed' ? Number(p.value) : call.seed!,
        run: p.run,
        state: runState(p),
      })),
    );
    const jobs: RobustnessJob[] = study.robustness ? robustnessJobs(runs) : [];
    const jobDone = (j: RobustnessJob) => robustnessDone(j, settings);
    const commands = [
      ...calls.map(
        (c) =>
          `npx supcon sweep --vary ${c.vary}=${c.values.join(',')} --out ${c.dir} --json -- ${c.trainFlags.join(' ')}`,
      ),
      ...jobs.map((j) => `npx supcon ${robustnessArgs(j, settings).join(' ')}`),
    ];
    if (flags['dry-run'] === true) {
      const evaluations = jobs.map((j) => ({ ...j, state: jobDone(j) ? 'finished' : 'to evaluate' }));
      if (flags['json'])
        console.log(JSON.stringify({ study: name, dryRun: true, runs, robustness: evaluations, commands }));
      else {
        const finished = runs.filter((r) => r.state === 'finished').length;
        console.log(
          `study ${name}: ${runs.length} runs, ${finished} finished, ${runs.length - finished} to do (nothing trained: --dry-run)`,
        );
        for (const r of runs) console.log(`  ${r.state.padEnd(10)} ${r.run}`);
        if (evaluations.length > 0) {
          console.log(
            `robustness: ${evaluations.filter((e) => e.state === 'finished').length}/${evaluations.length} finished`,
          );
          for (const e of evaluations)
            console.log(`  ${e.state.padEnd(11)} ${e.run}${e.baseline ? ` against ${e.baseline}` : ''}`);
        }
        console.log(`the same as:\n${commands.map((c) => `  ${c}`).join('\n')}`);
      }
      return 0;
    }
    refuseStale(
      plans.flatMap((p) => p.plan.runs),
      flags['rerun-stale'] === true,
    );

    const toDo = runs.filter((r) => r.state !== 'finished').length + jobs.filter((j) => !jobDone(j)).length;
    const tick = progress(name!, runs.length + jobs.length, toDo, quiet);
    let trained = 0;
    for (const { plan } of plans) {
      const results = runSweep(plan, {
        quiet,
        onRun: (record, worked) => {
          if (worked) trained++;
          tick(record.run, worked);
        },
      });
      await sweepFigure(plan, results);
    }
    // A baseline evaluated now invalidates the mCE of the SupCon run compared with it.
    const redone = new Set<string>();
    let evaluated = 0;
    for (const job of jobs) {
      if (jobDone(job) && !(job.baseline !== undefined && redone.has(job.baseline))) continue;
      const r = supcon(robustnessArgs(job, settings), quiet);
      if (r.status !== 0)
        throw new CliError(
          `Robustness of ${job.run} failed: ${lastLine(r)}`,
          r.status === EXIT.usage ? EXIT.usage : EXIT.failed,
        );
      redone.add(job.run);
      evaluated++;
      tick(`robustness of ${job.run}`, true);
    }

    const records: StudyRun[] = runs.map(({ state: _, ...where }) => readRun(where));
    const groups = groupRuns(records);
    const dir = join(out, 'findings');
    ensureOutputFolder('out', dir);
    const figure = join(dir, `findings-${name}.png`);
    const files = [join(dir, `${name}.json`), join(dir, `${name}.md`)];
    let table: string;
    let robustness: unknown;
    let sensitivity: unknown;
    if (study.robustness) {
      const evaluatedRuns = jobs.map(readRobustness);
      const rGroups = groupRobustness(evaluatedRuns);
      table = `${accuracyTable(study, name!, groups)}\n\n${robustnessTable(rGroups)}`;
      files.push(...(await robustnessFigures(rGroups, dir)));
      robustness = { settings, runs: evaluatedRuns, groups: rGroups };
    } else if (study.sensitivity) {
      const found = sensitivityFindings(records);
      table = sensitivityTable(found);
      await sensitivityFigure(found, figure);
      files.push(figure);
      sensitivity = found;
    } else {
      table = accuracyTable(study, name!, groups);
      await accuracyFigure(study, name!, groups, figure);
      files.push(figure);
    }
    const cpu = cpuInfo();
    const data = {
      study: name,
      summary: study.summary,
      date: new Date().toISOString().slice(0, 10),
      cpu: `${cpu.model}, family ${cpu.family ?? '?'}, ${cpu.logical} logical CPUs`,
      commands,
      seeds,
      values,
      extraTrainFlags: extra,
      runs: records,
      groups,
      selectedOnValidation: selectOnValidation(groups),
      ...(robustness !== undefined ? { robustness } : {}),
      ...(sensitivity !== undefined ? { sensitivity } : {}),
      trainedNow: trained,
      evaluatedNow: evaluated,
    };
    writeFileDurable(files[0]!, `${JSON.stringify(data, null, 1)}\n`);
    writeFileDurable(files[1]!, `${table}\n`);
    if (flags['json']) console.log(JSON.stringify({ ...data, files }));
    else
      console.log(
        `${table}\n\nWrote ${files.join(', ')} (${trained} run(s) trained or probed now, ${evaluated} robustness evaluation(s)).`,
      );
    return 0;
  },
};
