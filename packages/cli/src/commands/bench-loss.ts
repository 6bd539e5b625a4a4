/**
 * `supcon bench loss`: median time of forward + backward of the SupCon loss, peak memory, backend;
 * with --compare-torch, the PyTorch reference formula in the same run (torch, ours, torch).
 */
import * as tf from '@tensorflow/tfjs-core';
import { median, supConLoss } from 'supcon';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import type { Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { runTorchScript } from '../torch.js';

const flagSpecs = {
  'batch-size': { kind: 'int', default: 1024, min: 1 },
  views: { kind: 'int', default: 2, min: 1 },
  dim: { kind: 'int', default: 128, min: 1 },
  classes: { kind: 'int', default: 10, min: 1 },
  reps: { kind: 'int', default: 5, min: 1 },
  warmup: { kind: 'int', default: 1, min: 0 },
  temperature: { kind: 'number', default: 0.1 },
  backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
  'compare-torch': { kind: 'boolean' },
  python: { kind: 'string', default: '/usr/bin/python3' },
} as const;

export interface LossBenchResult {
  impl: 'supcon';
  backend: string;
  batchSize: number;
  views: number;
  dim: number;
  msMedian: number;
  msAll: number[];
  peakRssMiB: number;
}

/** Times value + gradient of the mean SupCon loss on random unit features and labels. */
export function benchLoss(
  batch: number,
  views: number,
  dim: number,
  classes: number,
  reps: number,
  warmup: number,
  temperature: number,
): number[] {
  const features = tf.tidy(() => {
    const f = tf.randomNormal([batch, views, dim], 0, 1, 'float32', 7);
    return tf.div(f, tf.norm(f, 'euclidean', -1, true)); // [batch, views, dim], unit rows
  });
  const labels = tf.randomUniformInt([batch], 0, classes, 11) as tf.Tensor1D;
  const step = tf.valueAndGrad((x: tf.Tensor) => supConLoss(x, labels, { temperature }));
  const times: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const start = performance.now();
    const { value, grad } = step(features);
    grad.dataSync(); // wait for the whole computation
    const ms = performance.now() - start;
    tf.dispose([value, grad]);
    if (i >= warmup) times.push(ms);
  }
  tf.dispose([features, labels]);
  return times;
}

function torchBench(python: string, batch: number, views: number, dim: number, reps: number) {
  const size = [
    '--batch-size',
    String(batch),
    '--views',
    String(views),
    '--dim',
    String(dim),
    '--reps',
    String(reps),
  ];
  return runTorchScript(python, 'bench_loss_torch.py', size);
}

export const benchLossCommand: Command = {
  name: 'bench loss',
  summary: 'time forward + backward of the SupCon loss (optionally against PyTorch)',
  help: `Usage: supcon bench loss [--batch-size N] [--views V] [--dim D] [--reps R] [--backend auto|native|cpu] [--compare-torch] [--json]

Times forward + backward of the mean SupCon loss on random L2-normalised features
[N, V, D] with labels from --classes classes: median of --reps runs after --warmup runs.
Reports milliseconds, peak resident memory of the process and the backend.

  --batch-size N     samples (default 1024); rows = N × V
  --views V          views per sample (default 2)
  --dim D            feature dimension (default 128)
  --classes K        label classes (default 10)
  --reps R           timed repetitions (default 5)
  --warmup W         untimed repetitions first (default 1)
  --backend B        auto (native if it loads), native or cpu (default auto)
  --compare-torch    also run reference/bench_loss_torch.py before and after ours, print the ratio
  --python PATH      Python with torch for --compare-torch (default /usr/bin/python3)
  --json             print one JSON object`,
  async run(argv) {
    const { flags } = parseFlags(argv, flagSpecs);
    const [batch, views, dim] = [
      flags['batch-size'] as number,
      flags['views'] as number,
      flags['dim'] as number,
    ];
    const reps = flags['reps'] as number;
    const backend = await selectBackend(flags['backend'] as BackendChoice, Boolean(flags['json']));
    const compare = Boolean(flags['compare-torch']);
    const python = flags['python'] as string;
    const torchBefore = compare ? torchBench(python, batch, views, dim, reps) : undefined;
    const msAll = benchLoss(
      batch,
      views,
      dim,
      flags['classes'] as number,
      reps,
      flags['warmup'] as number,
      flags['temperature'] as number,
    );
    const torchAfter = compare ? torchBench(python, batch, views, dim, reps) : undefined;
    const result: LossBenchResult & Record<string, unknown> = {
      impl: 'supcon',
      backend,
      batchSize: batch,
      views,
      dim,
      msMedian: median(msAll),
      msAll: msAll.map((x) => Math.round(x * 10) / 10),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    if (torchBefore && torchAfter) {
      const torchMs = median([torchBefore['msMedian'] as number, torchAfter['msMedian'] as number]);
      result['torch'] = { before: torchBefore, after: torchAfter, msMedian: torchMs };
      result['ratioToTorch'] = result.msMedian / torchMs;
    }
    if (flags['json']) console.log(JSON.stringify(result));
    else {
      const rows = [
        `rows ${batch * views} × dim ${dim} (batch ${batch}, views ${views}) on ${backend}`,
        `supcon   forward+backward median ${result.msMedian.toFixed(1)} ms, peak RSS ${result.peakRssMiB} MiB`,
      ];
      if (result['ratioToTorch'] !== undefined) {
        const t = result['torch'] as { msMedian: number; before: { peakRssMiB: number } };
        rows.push(
          `pytorch  forward+backward median ${t.msMedian.toFixed(1)} ms, peak RSS ${t.before.peakRssMiB} MiB`,
        );
        rows.push(`ratio supcon / pytorch = ${(result['ratioToTorch'] as number).toFixed(2)}`);
      }
      console.log(rows.join('\n'));
    }
    return 0;
  },
};
