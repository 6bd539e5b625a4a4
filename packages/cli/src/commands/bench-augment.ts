/**
 * `supcon bench augment`: samples per second of the full multi-view augmentation pipeline on one
 * thread (and through the worker-thread DataLoader with --workers), compared in the same run with
 * torchvision's equivalent per-sample transforms: ours, torchvision, ours (A B A), medians.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataLoader, loadDataset, parseDatasetSpec } from '@supcon/node';
import { AUGMENT_PRESETS, Augmenter, type AugmentPreset, augmentPreset, median, Random } from 'supcon';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { measureOverlap, type OverlapResult } from './data-overlap.js';

const SHAPES: Record<string, [number, number, number]> = {
  mnist: [28, 28, 1],
  'fashion-mnist': [28, 28, 1],
  cifar10: [32, 32, 3],
  cifar100: [32, 32, 3],
};

export interface AugmentBenchResult {
  dataset: string;
  source: 'dataset' | 'synthetic';
  shape: [number, number, number];
  preset: string;
  /** `--random-erasing P`: the probability of the randomErasing step after the preset (absent: none). */
  randomErasing?: number;
  views: number;
  batch: number;
  /** Median over both of our runs (A B A), one thread, per second of wall time. */
  samplesPerSec: number;
  /** The same per second of CPU time of the process: less sensitive to other jobs on the machine. */
  samplesPerCpuSec: number;
  /** Wall-time figure of each of our runs. */
  runs: number[];
  torchvision?:
    | { samplesPerSec: number; samplesPerCpuSec: number; ratio: number; cpuRatio: number; version: string }
    | { error: string };
  loader?: { workers: number; samplesPerSec: number };
  overlap?: OverlapResult;
}

/** Samples per second of wall time and per second of this process's CPU time (less sensitive to a busy machine). */
function timeOurs(
  aug: Augmenter,
  images: Uint8Array,
  batch: number,
  views: number,
  reps: number,
  seed: number,
): { wall: number; cpu: number } {
  const out = new Float32Array(batch * views * aug.viewSize);
  for (let w = 0; w < 3; w++) aug.apply(images, batch, { views, seed: seed + w, out }); // warm-up (JIT)
  const times: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    const c = process.cpuUsage();
    aug.apply(images, batch, { views, seed: seed + 100 + r, out });
    const used = process.cpuUsage(c);
    times.push(performance.now() - t);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wall: batch / (median(times) / 1000), cpu: batch / (median(cpu) / 1000) };
}

export const benchAugmentCommand: Command = {
  name: 'bench augment',
  summary: 'Samples/s of the multi-view augmentation pipeline, with torchvision in the same run',
  help: [
    'Usage: supcon bench augment [--dataset NAME[:PATH]] [--views 2] [--preset supcon] [--batch 512] [--json]',
    '',
    '  --dataset D     fashion-mnist (default), mnist, cifar10, cifar100 (images of the training split)',
    "  --synthetic     use random images of the dataset's shape (when the files are not downloaded)",
    `  --preset P      ${AUGMENT_PRESETS.join(', ')} (default supcon)`,
    '  --random-erasing P  append random erasing with probability P after normalisation (both sides:',
    '                  torchvision RandomErasing(p=P) after Normalize)',
    '  --views V       views per sample (default 2)',
    '  --batch N       samples per timed batch (default 512)',
    '  --reps R        timed batches per run (default 7; median)',
    '  --workers W     also time the DataLoader with W worker threads (batches of 256, 40 timed)',
    '  --no-torch      skip the torchvision comparison (--torch=false)',
    '  --python P      Python with torch and torchvision (default /usr/bin/python3)',
    '  --overlap S     also time Trainer steps (small ResNet, batch 128): views ready-made, augmented ahead',
    '                  in a worker (PrefetchingViews), and inline; S interleaved cycles, one timed step per mode each',
    '  --backend B     backend of those steps: auto (native when built), native, cpu',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      dataset: { kind: 'string', default: 'fashion-mnist' },
      synthetic: { kind: 'boolean' },
      preset: { kind: 'string', default: 'supcon', choices: AUGMENT_PRESETS },
      'random-erasing': { kind: 'number', min: 0 },
      views: { kind: 'int', default: 2, min: 1 },
      batch: { kind: 'int', default: 512, min: 1 },
      reps: { kind: 'int', default: 7, min: 1 },
      workers: { kind: 'int', min: 0 },
      torch: { kind: 'boolean', default: true },
      'no-torch': { kind: 'boolean' },
      python: { kind: 'string', default: '/usr/bin/python3' },
      overlap: { kind: 'int', min: 1 },
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
    });
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`; pass the dataset as --dataset NAME.`);
    const spec = flags['dataset'] as string;
    const views = flags['views'] as number;
    const reps = flags['reps'] as number;
    const preset = flags['preset'] as AugmentPreset;
    const erasing = flags['random-erasing'] as number | undefined;
    if (erasing !== undefined && !(erasing > 0 && erasing <= 1))
      throw new CliError(
        `Invalid value for \`--random-erasing\`. Expected a probability in (0, 1]. Received: ${erasing}.`,
      );
    let batch = flags['batch'] as number;
    const { name } = parseDatasetSpec(spec);
    let images: Uint8Array;
    let shape: [number, number, number];
    let source: AugmentBenchResult['source'] = 'dataset';
    let mean: number[];
    let std: number[];
    let trainSet: Awaited<ReturnType<typeof loadDataset>>['train'] | undefined;
    if (flags['synthetic']) {
      const s = SHAPES[name];
      if (!s)
        throw new CliError(
          `--synthetic needs a dataset of known shape (${Object.keys(SHAPES).join(', ')}). Received: ${spec}.`,
        );
      shape = s;
      source = 'synthetic';
      const rng = new Random(1);
      images = Uint8Array.from({ length: batch * s[0] * s[1] * s[2] }, () => rng.int(0, 256));
      mean = new Array(s[2]).fill(0.5);
      std = new Array(s[2]).fill(0.25);
    } else {
      const ds = await loadDataset(spec).catch((error: unknown) => {
        if (error instanceof Error && /not found/.test(error.message)) {
          throw new CliError(
            `${error.message.replace(/\.$/, '')}; or add --synthetic to time random images of its shape.`,
            1,
          );
        }
        throw error;
      });
      trainSet = ds.train;
      shape = [ds.train.height, ds.train.width, ds.train.channels];
      batch = Math.min(batch, ds.train.count);
      images = ds.train.images.subarray(0, batch * shape[0] * shape[1] * shape[2]);
      mean = ds.mean;
      std = ds.std;
    }
    const steps = augmentPreset(preset, { size: [shape[0], shape[1]], mean, std });
    if (erasing !== undefined) steps.push({ op: 'randomErasing', p: erasing });
    const aug = new Augmenter(steps, { height: shape[0], width: shape[1], channels: shape[2] });
    const timed = [timeOurs(aug, images, batch, views, reps, 1)];
    const runs = [timed[0]!.wall];
    const result: AugmentBenchResult = {
      dataset: spec,
      source,
      shape,
      preset,
      ...(erasing !== undefined ? { randomErasing: erasing } : {}),
      views,
      batch,
      samplesPerSec: 0,
      samplesPerCpuSec: 0,
      runs,
    };
    const wantTorch = flags['torch'] && !flags['no-torch'];
    if (wantTorch && preset === 'none') {
      result.torchvision = { error: 'no torchvision comparison for the none preset' };
    } else if (wantTorch) {
      result.torchvision = runTorch(
        flags['python'] as string,
        name,
        preset,
        images,
        batch,
        shape,
        views,
        reps,
        erasing,
      );
    }
    timed.push(timeOurs(aug, images, batch, views, reps, 2));
    runs.push(timed[1]!.wall);
    result.samplesPerSec = median(runs);
    result.samplesPerCpuSec = median(timed.map((t) => t.cpu));
    const tv0 = result.torchvision;
    if (tv0 && 'version' in tv0) {
      tv0.ratio = result.samplesPerSec / tv0.samplesPerSec;
      tv0.cpuRatio = result.samplesPerCpuSec / tv0.samplesPerCpuSec;
    }
    const workers = flags['workers'] as number | undefined;
    if (workers !== undefined) {
      const set = trainSet ?? {
        images,
        labels: new Int32Array(batch),
        count: batch,
        height: shape[0],
        width: shape[1],
        channels: shape[2],
      };
      const loaderBatch = Math.min(256, set.count);
      const loader = new DataLoader(set, { batchSize: loaderBatch, views, steps, workers, seed: 3 });
      // 5 batches of warm-up (thread start, JIT in each worker), then 40 timed batches.
      let seen = 0;
      let n = 0;
      let t0 = 0;
      let epoch = 0;
      while (seen < 45) {
        for await (const b of loader.epoch(epoch++)) {
          seen++;
          if (seen === 5) t0 = performance.now();
          else if (seen > 5) n += b.labels.length;
          if (seen >= 45) break;
        }
      }
      result.loader = { workers, samplesPerSec: n / ((performance.now() - t0) / 1000) };
      await loader.close();
    }
    const overlapSteps = flags['overlap'] as number | undefined;
    if (overlapSteps !== undefined) {
      const backend = await selectBackend(flags['backend'] as BackendChoice, Boolean(flags['json']));
      const set = trainSet ?? {
        images,
        labels: new Int32Array(batch),
        count: batch,
        height: shape[0],
        width: shape[1],
        channels: shape[2],
      };
      result.overlap = await measureOverlap(set, steps, {
        batch: Math.min(128, set.count),
        views,
        steps: overlapSteps,
        backend,
      });
    }
    if (flags['json']) {
      console.log(JSON.stringify(result));
      return 0;
    }
    const k = (v: number) => `${Math.round(v).toLocaleString('en-US')} samples/s`;
    const lines = [
      `augment ${preset}${erasing !== undefined ? ` + random erasing p ${erasing}` : ''}, ${views} views, ${shape.join('×')} ${source === 'synthetic' ? '(synthetic images)' : `(${spec})`}, batch ${batch}`,
      `  supcon (1 thread)      ${k(result.samplesPerSec)}   (${k(result.samplesPerCpuSec)} of CPU time)   runs: ${runs.map((r) => Math.round(r)).join(', ')}`,
    ];
    const tv = result.torchvision;
    if (tv && 'version' in tv)
      lines.push(
        `  torchvision ${tv.version.padEnd(10)} ${k(tv.samplesPerSec)}   (${k(tv.samplesPerCpuSec)} of CPU time)   ratio ${tv.ratio.toFixed(1)}× (CPU ${tv.cpuRatio.toFixed(1)}×)`,
      );
    else if (tv) lines.push(`  torchvision: ${tv.error}`);
    const o = result.overlap;
    if (o) {
      const ms = (v: number) => `${v.toFixed(0)} ms`;
      const pct = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%`;
      lines.push(
        `  training step (${o.backend}, batch ${o.batch}×${o.views}): ready-made views ${ms(o.readyMs)}, ` +
          `augmented ahead in a worker ${ms(o.aheadMs)} (${pct(o.slowdown)}), inline ${ms(o.inlineMs)} (${pct(o.inlineSlowdown)}); ` +
          `${o.prefetched} batches from the worker, ${o.inlineRequests} inline, waited ${ms(o.waitMs)} in all`,
      );
    }
    if (result.loader)
      lines.push(`  DataLoader (${result.loader.workers} workers) ${k(result.loader.samplesPerSec)}`);
    console.log(lines.join('\n'));
    return 0;
  },
};

function runTorch(
  python: string,
  name: string,
  preset: AugmentPreset,
  images: Uint8Array,
  batch: number,
  shape: [number, number, number],
  views: number,
  reps: number,
  erasing: number | undefined,
): NonNullable<AugmentBenchResult['torchvision']> {
  const script = fileURLToPath(new URL('../../../../../reference/torch_augment.py', import.meta.url));
  if (!existsSync(python)) return { error: `${python} not found` };
  if (!existsSync(script)) return { error: `${script} not found` };
  const dir = mkdtempSync(join(tmpdir(), 'supcon-bench-'));
  try {
    const raw = join(dir, 'images.u8');
    writeFileSync(raw, images);
    const args = [
      script,
      'bench',
      '--preset',
      preset,
      '--dataset',
      name,
      '--views',
      String(views),
      '--batch',
      String(batch),
      '--reps',
      String(reps),
    ];
    args.push('--images', raw, '--shape', [batch, ...shape].join(','));
    if (erasing !== undefined) args.push('--random-erasing', String(erasing));
    const run = spawnSync(python, args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    if (run.status !== 0)
      return { error: `torchvision run failed: ${(run.stderr || run.stdout).trim().split('\n').pop()}` };
    const parsed = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      samplesPerSec: number;
      samplesPerCpuSec: number;
      torchvision: string;
    };
    return {
      samplesPerSec: parsed.samplesPerSec,
      samplesPerCpuSec: parsed.samplesPerCpuSec,
      ratio: 0,
      cpuRatio: 0,
      version: parsed.torchvision,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
