/**
 * `supcon bench step --compare-torch`: PyTorch and our step, interleaved in separate processes
 * (PyTorch, ours, PyTorch, ours, … for R rounds), so that neither side runs beside the other or
 * after it in a warmed, loaded process. This parent loads no backend and no native engine: the
 * engine's OpenMP threads would keep spinning while PyTorch runs. Each round gives one median
 * ms/step per side; the result is the ratio of the medians of those round medians, with the spread.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from 'supcon';
import type { BackendChoice } from './backend.js';
import { CliError } from './command.js';
import type { StepOptions } from './step-bench.js';
import { runTorchScript } from './torch.js';

/** The options of one measured step; `profile` applies to the first round of each side. */
export interface CompareOptions extends Omit<StepOptions, 'backend'> {
  backend: BackendChoice;
  rounds: number;
  python: string;
}

export interface Round {
  torchMs: number;
  oursMs: number;
}

const cliEntry = fileURLToPath(new URL('./main.js', import.meta.url));

/** Our side in a child process: `bench step` without --compare-torch, one JSON object. */
function runOurs(args: string[], round: number, seen: Set<string>, warn: (s: string) => void) {
  const argv = [cliEntry, 'bench', 'step', ...args, '--json'];
  const out = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const lines = (out.stderr ?? '').split('\n').filter((l) => l.trim() !== '');
  if (out.error || out.status !== 0) {
    const why = (lines.at(-1) ?? String(out.error ?? `exit status ${out.status}`)).replace(/^supcon: /, '');
    throw new CliError(`Our side of round ${round} failed (node ${argv.join(' ')}): ${why}`);
  }
  for (const line of lines) {
    if (!seen.has(line)) warn(line);
    seen.add(line);
  }
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

const spreadOf = (xs: number[]) => ({ min: Math.min(...xs), max: Math.max(...xs) });

export function compareWithTorch(o: CompareOptions): Record<string, unknown> {
  const shared = [
    ...['--batch-size', String(o.batch), '--views', String(o.views), '--steps', String(o.steps)],
    ...['--warmup', String(o.warmup), '--classes', String(o.classes), '--precision', o.precision],
  ];
  const torchArgs = [...o.model.torchArgs, ...shared];
  const oursArgs = ['--model', o.model.name, '--backend', o.backend, ...shared];
  const seen = new Set<string>();
  const torchRuns: Record<string, unknown>[] = [];
  const oursRuns: Record<string, unknown>[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    const profile = o.profile && r === 1 ? ['--profile'] : [];
    torchRuns.push(runTorchScript(o.python, 'torch_step.py', [...torchArgs, ...profile]));
    oursRuns.push(runOurs([...oursArgs, ...profile], r, seen, o.warn));
    if (r === 1 && torchRuns[0]!['params'] !== oursRuns[0]!['params']) {
      throw new CliError(
        `The PyTorch ${o.model.name} has ${torchRuns[0]!['params']} trainable parameters and ours ${oursRuns[0]!['params']}: the models differ, so the times would not compare like with like.`,
      );
    }
  }
  const rounds: Round[] = torchRuns.map((t, i) => ({
    torchMs: t['msPerStep'] as number,
    oursMs: oursRuns[i]!['msPerStep'] as number,
  }));
  const ours = oursRuns[0]!;
  const torch = torchRuns[0]!;
  if (ours['precision'] !== torch['precision'])
    o.warn(
      `supcon: warning: the sides ran in different precisions (ours ${ours['precision']}, PyTorch ${torch['precision']}).`,
    );
  const msPerStep = median(rounds.map((r) => r.oursMs));
  const torchMsPerStep = median(rounds.map((r) => r.torchMs));
  const maxOf = (runs: Record<string, unknown>[], key: string) =>
    Math.max(...runs.map((x) => x[key] as number));
  return {
    impl: 'supcon',
    model: o.model.name,
    backend: ours['backend'],
    precision: ours['precision'],
    requestedPrecision: o.precision,
    threads: ours['threads'],
    params: ours['params'],
    batchSize: o.batch,
    views: o.views,
    msPerStep,
    imagesPerSec: (o.batch * o.views * 1000) / msPerStep,
    minorFaultsPerStep: median(oursRuns.map((x) => x['minorFaultsPerStep'] as number)),
    peakRssMiB: maxOf(oursRuns, 'peakRssMiB'),
    torchMsPerStep,
    torchImagesPerSec: (o.batch * o.views * 1000) / torchMsPerStep,
    torchPrecision: torch['precision'],
    torchThreads: torch['threads'],
    torchVersion: torch['torch'],
    torchPeakRssMiB: maxOf(torchRuns, 'peakRssMiB'),
    ratioToTorch: msPerStep / torchMsPerStep,
    rounds,
    spread: {
      ours: spreadOf(rounds.map((r) => r.oursMs)),
      torch: spreadOf(rounds.map((r) => r.torchMs)),
      ratio: spreadOf(rounds.map((r) => r.oursMs / r.torchMs)),
    },
    ...(ours['profile'] ? { profile: ours['profile'] } : {}),
    ...(torch['kernels'] ? { torchProfile: torch['kernels'] } : {}),
    runs: { ours: oursRuns, torch: torchRuns },
  };
}
