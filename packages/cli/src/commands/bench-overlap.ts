/**
 * `supcon bench overlap`: issue 4's "running the loader alongside a training step slows the step by
 * less than 5%", measured on the Trainer itself (see benchOverlap in @supcon/node): the same steps
 * with views prepared before the block (outside the timed region) and with PrefetchingViews
 * augmenting in its worker alongside, in blocks interleaved A B A B, medians, `slowdownPct`.
 */
import {
  benchOverlap,
  ENCODERS,
  type EncoderName,
  type ImageSet,
  loadDataset,
  OVERLAP_MODES,
  type OverlapMode,
  parseDatasetSpec,
} from '@supcon/node';
import { Random } from 'supcon';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';

const SHAPES: Record<string, [number, number, number]> = {
  mnist: [28, 28, 1],
  'fashion-mnist': [28, 28, 1],
  cifar10: [32, 32, 3],
  cifar100: [32, 32, 3],
};

export const benchOverlapCommand: Command = {
  name: 'bench overlap',
  summary: 'time Trainer steps with views prepared beforehand vs augmented alongside in the prefetch worker',
  help: `Usage: supcon bench overlap [--dataset fashion-mnist] [--encoder small-resnet] [--batch-size 256] [--json]

Times the Trainer's step (the demo's model and SupCon loss unless --encoder) in blocks, one mode per
block, modes interleaved in every round (A B A B …) so other jobs weigh on all alike; the first
step of a block is untimed. Modes:
  ready       views of the block augmented before it, outside the timed region (the baseline)
  ahead       PrefetchingViews: its worker thread augments the next batches alongside the step
  ahead-nice  the same with the worker thread at a lower priority (--nice)
  inline      augmented on the training thread inside the step
slowdownPct = median step of ahead-nice (how supcon train runs the worker; else ahead) / median step of ready − 1.

  --dataset D          fashion-mnist (default) | mnist | cifar10 | cifar100 | NAME:PATH
  --synthetic          random images of the dataset's shape (when it is not on disk)
  --encoder E          ${ENCODERS.join(' | ')} (default small-resnet)
  --batch-size N       samples per step (default 256)
  --augment A          light (default, the demo's) | supcon | none
  --modes LIST         comma-separated, from ${OVERLAP_MODES.join(', ')} (default ready,ahead-nice)
  --rounds R           rounds of blocks (default 5)
  --steps N            timed steps per block (default 4)
  --nice N             niceness of the ahead-nice worker (default 19)
  --depth N            batches the worker keeps ready (default 3)
  --threads N          OpenMP threads of the native engine (default: its own, normally the core count)
  --backend B          auto | native | cpu (default auto)
  --json               print one JSON object`,
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      dataset: { kind: 'string', default: 'fashion-mnist' },
      synthetic: { kind: 'boolean' },
      encoder: { kind: 'string', default: 'small-resnet', choices: ENCODERS },
      'batch-size': { kind: 'int', default: 256, min: 2 },
      augment: { kind: 'string', default: 'light', choices: ['light', 'supcon', 'none'] },
      modes: { kind: 'string', default: 'ready,ahead-nice' },
      rounds: { kind: 'int', default: 5, min: 1 },
      steps: { kind: 'int', default: 4, min: 1 },
      nice: { kind: 'int', default: 19, min: 0 },
      depth: { kind: 'int', default: 3, min: 1 },
      threads: { kind: 'int', min: 1 },
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
    });
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon bench overlap --help\`.`);
    const modes = (flags['modes'] as string).split(',').map((m) => m.trim()) as OverlapMode[];
    for (const m of modes)
      if (!OVERLAP_MODES.includes(m))
        throw new CliError(
          `Invalid value for \`--modes\`. Expected a comma-separated list from ${OVERLAP_MODES.join(', ')}. Received: ${flags['modes']}.`,
        );
    if (new Set(modes).size !== modes.length)
      throw new CliError(`Invalid value for \`--modes\`: each mode once. Received: ${flags['modes']}.`);
    const json = flags['json'] === true;
    const backend = await selectBackend(flags['backend'] as BackendChoice, json);
    const threads = flags['threads'] as number | undefined;
    if (threads !== undefined) {
      if (backend !== 'native') throw new CliError('Flag `--threads` needs the native backend.');
      const native = await import('@supcon/native');
      native.requireAddon().setNumThreads(threads);
    }
    const spec = flags['dataset'] as string;
    const { set, mean, std } = await benchData(
      spec,
      flags['synthetic'] === true,
      flags['batch-size'] as number,
    );
    const result = await benchOverlap({
      set,
      mean,
      std,
      encoder: flags['encoder'] as EncoderName,
      batchSize: flags['batch-size'] as number,
      augment: flags['augment'] as 'light' | 'supcon' | 'none',
      modes,
      rounds: flags['rounds'] as number,
      blockSteps: flags['steps'] as number,
      nice: flags['nice'] as number,
      depth: flags['depth'] as number,
    });
    const native = backend === 'native' ? await import('@supcon/native') : undefined;
    const out = {
      dataset: spec,
      backend,
      threads: native ? native.requireAddon().numThreads() : 1,
      ...result,
    };
    if (json) {
      console.log(JSON.stringify(out));
      return 0;
    }
    console.log(
      `${result.encoder}, batch ${result.batchSize}×${result.views} views, ${backend} backend (${out.threads} threads), ` +
        `${result.rounds} rounds × ${result.blockSteps} timed steps per mode; augmenting one batch inline: ${result.augmentMsPerBatch.toFixed(1)} ms`,
    );
    for (const m of modes) {
      const r = result.modes[m]!;
      const extra =
        r.prefetched !== undefined
          ? `  (${r.prefetched} prefetched, ${r.inline} inline, waited ${r.waitMs!.toFixed(1)} ms)`
          : '';
      const pct =
        m === 'ready'
          ? ''
          : ` ${result.slowdownPctByMode[m]! >= 0 ? '+' : ''}${result.slowdownPctByMode[m]!.toFixed(1)}%`;
      console.log(
        `  ${m.padEnd(10)} ${r.medianMs.toFixed(1).padStart(8)} ms/step${pct.padEnd(8)} CPU ${r.cpuMsPerStep.toFixed(0)} ms/step${extra}`,
      );
    }
    console.log(`slowdown of the step beside the worker: ${result.slowdownPct.toFixed(1)}% (target < 5%)`);
    return 0;
  },
};

async function benchData(
  spec: string,
  synthetic: boolean,
  batch: number,
): Promise<{ set: ImageSet; mean: number[]; std: number[] }> {
  if (!synthetic) {
    const ds = await loadDataset(spec);
    return { set: ds.train, mean: ds.mean, std: ds.std };
  }
  const { name } = parseDatasetSpec(spec);
  const shape = SHAPES[name];
  if (!shape)
    throw new CliError(
      `--synthetic needs a dataset of known shape (${Object.keys(SHAPES).join(', ')}). Received: ${spec}.`,
    );
  const [height, width, channels] = shape;
  const count = batch * 64;
  const rng = new Random(1);
  const images = Uint8Array.from({ length: count * height * width * channels }, () => rng.int(0, 256));
  const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
  return {
    set: { images, labels, count, height, width, channels },
    mean: new Array(channels).fill(0.5),
    std: new Array(channels).fill(0.25),
  };
}
