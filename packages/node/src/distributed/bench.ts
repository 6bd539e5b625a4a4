/**
 * Steps per second of single-process training (`trainRun`, views augmented inline) against
 * `trainDistributed` with 1, 2, … MPI ranks (mpirun on this machine), on the same spec. Configurations are interleaved
 * round by round (A B C A B C …) and each is summarised by the median step time of its steps after
 * the first `warmup` of every run (startup, data loading and oneDNN's first-use primitive builds are
 * left out; they are reported apart as `startupSeconds`).
 *
 *   node packages/node/dist/src/distributed/bench-main.js --model mlp --configs 1x2,1x1,2x1 --rounds 3
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from 'supcon';
import { selectBackend } from '../backend.js';
import { type Dataset, loadDataset } from '../data/index.js';
import { trainRun } from '../train/session.js';
import type { RunSpec } from '../train/spec.js';
import { trainDistributed } from './launch.js';

export interface DistributedBenchOptions {
  spec: RunSpec;
  /** Configurations after the single-process baseline: ranks × native threads per rank. */
  configs: { processes: number; threads: number }[];
  rounds: number;
  /** Steps per run, the first `warmup` of them not timed. */
  steps: number;
  warmup: number;
  backend: 'native' | 'cpu';
}

export interface DistributedBenchRow {
  /** 'single' (trainRun in this process, OMP_NUM_THREADS of this process) or 'P×T' (P ranks of T threads). */
  config: string;
  medianStepSeconds: number;
  stepsPerSecond: number;
  /** Baseline median step time / this one (> 1: faster than one process). */
  speedup: number;
  startupSeconds: number;
  runs: number;
}

export async function benchDistributed(options: DistributedBenchOptions): Promise<DistributedBenchRow[]> {
  const { spec, rounds, steps, warmup, backend } = options;
  await selectBackend(backend);
  const dataset: Dataset = await loadDataset(spec.data.dataset);
  const configs = [{ processes: 0, threads: 0 }, ...options.configs];
  const times = configs.map(() => [] as number[]);
  const startups = configs.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [k, { processes, threads }] of configs.entries()) {
      const dir = mkdtempSync(join(tmpdir(), 'supcon-bench-dp-'));
      const seconds: number[] = [];
      const started = performance.now();
      let firstStepAt = 0;
      const onStep = (r: { seconds: number }) => {
        if (seconds.length === 0) firstStepAt = performance.now();
        seconds.push(r.seconds);
      };
      try {
        if (processes === 0) {
          await trainRun(
            spec,
            join(dir, 'run'),
            { dataset, prefetch: false },
            { onStep, stop: (t) => t.position.iteration >= steps },
          );
        } else {
          await trainDistributed(
            spec,
            join(dir, 'run'),
            { processes, threadsPerProcess: threads, backend, dataset, stopAfterIterations: steps },
            { onStep },
          );
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      times[k]!.push(...seconds.slice(warmup));
      startups[k]!.push((firstStepAt - started) / 1000 - (seconds[0] ?? 0));
    }
  }
  const base = median(times[0]!);
  return configs.map((c, k) => {
    const m = median(times[k]!);
    return {
      config: c.processes === 0 ? 'single' : `${c.processes}×${c.threads}`,
      medianStepSeconds: m,
      stepsPerSecond: 1 / m,
      speedup: base / m,
      startupSeconds: median(startups[k]!),
      runs: rounds,
    };
  });
}
