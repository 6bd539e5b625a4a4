/**
 * `supcon bench step`: median time of one full SupCon training step (forward of N·V images,
 * projection head, L2-normalise, SupCon loss, backward, SGD-momentum update) of the CIFAR ResNet-18,
 * of the demo's small ResNet or of vit-tiny or vit-mini in its place. Without --compare-torch it
 * measures in this process; with it, step-compare.ts interleaves PyTorch and our step in separate processes and this process loads no
 * backend. --profile adds a per-kernel time breakdown of one step.
 */
import { PRECISIONS } from '@supcon/node';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { cpuInfo } from '../cpu.js';
import { parseFlags } from '../flags.js';
import { type KernelTime, measureStep, type Precision } from '../step-bench.js';
import { compareWithTorch } from '../step-compare.js';
import { STEP_MODELS, type StepModelName, stepModel } from '../step-model.js';

const flagSpecs = {
  model: { kind: 'string', default: 'resnet18-cifar', choices: STEP_MODELS },
  'batch-size': { kind: 'int', min: 1 }, // default: the model's (64 for resnet18-cifar, the demo's 256)
  views: { kind: 'int', default: 2, min: 1 },
  steps: { kind: 'int', default: 7, min: 1 },
  warmup: { kind: 'int', default: 2, min: 0 },
  classes: { kind: 'int', default: 10, min: 1 },
  backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
  precision: { kind: 'string', default: 'fp32', choices: PRECISIONS },
  profile: { kind: 'boolean' },
  'compare-torch': { kind: 'boolean' },
  rounds: { kind: 'int', min: 1 }, // default 3, only with --compare-torch
  python: { kind: 'string', default: '/usr/bin/python3' },
} as const;

const MODEL_TITLE: Record<StepModelName, string> = {
  'resnet18-cifar': 'ResNet-18 (CIFAR stem) SupCon step',
  'small-resnet': 'demo small-ResNet SupCon step',
  'vit-tiny': 'vit-tiny SupCon step',
  'vit-mini': 'vit-mini SupCon step',
};

const round0 = (x: unknown) => (x as number).toFixed(0);

function kernelRows(title: string, kernels: KernelTime[], width: number): string[] {
  if (kernels.length === 0) return [];
  return [
    title,
    ...kernels
      .slice(0, 25)
      .map((k) => `  ${k.name.padEnd(width)} ${k.ms.toFixed(1).padStart(9)} ms  ×${k.calls}`),
  ];
}

function report(r: Record<string, unknown>, title: string): string {
  const cpu = `CPU: ${r['cpu']} (family ${r['cpuFamily'] ?? 'unknown'}), ${r['logicalCpus']} logical CPUs`;
  const images = `${r['batchSize']}×${r['views']} images`;
  const ours = `supcon ${r['backend']} (${r['precision']}, ${r['threads']} threads)`;
  const rows = [cpu];
  if (r['ratioToTorch'] === undefined) {
    rows.push(
      `${title}, ${images}, ${ours}: ${round0(r['msPerStep'])} ms/step, ${round0(r['imagesPerSec'])} images/s, peak RSS ${r['peakRssMiB']} MiB, ${r['minorFaultsPerStep']} minor page faults/step`,
    );
  } else {
    const rounds = r['rounds'] as { torchMs: number; oursMs: number }[];
    const spread = r['spread'] as Record<'ours' | 'torch' | 'ratio', { min: number; max: number }>;
    const range = (s: { min: number; max: number }) => `${s.min.toFixed(0)}–${s.max.toFixed(0)}`;
    rows.push(
      `${title}, ${images}, ${rounds.length} rounds interleaved (PyTorch first), each side in its own process:`,
      `  pytorch ${r['torchVersion']} (${r['torchPrecision']}, ${r['torchThreads']} threads, channels-last): median ${round0(r['torchMsPerStep'])} ms/step (rounds ${range(spread.torch)}), peak RSS ${r['torchPeakRssMiB']} MiB`,
      `  ${ours}: median ${round0(r['msPerStep'])} ms/step (rounds ${range(spread.ours)}), peak RSS ${r['peakRssMiB']} MiB`,
      `  ratio supcon / pytorch (of the round medians) = ${(r['ratioToTorch'] as number).toFixed(2)} (per round ${spread.ratio.min.toFixed(2)}–${spread.ratio.max.toFixed(2)})`,
      `  rounds (pytorch / supcon ms): ${rounds.map((x) => `${x.torchMs.toFixed(0)} / ${x.oursMs.toFixed(0)}`).join(', ')}`,
    );
  }
  const profiled = r['profile'] as { totalMs: number; kernels: KernelTime[] } | undefined;
  if (profiled)
    rows.push(
      ...kernelRows(
        `per-kernel time of one profiled step (${profiled.totalMs.toFixed(0)} ms wall):`,
        profiled.kernels,
        28,
      ),
    );
  rows.push(
    ...kernelRows(
      'pytorch per-operator self time of one step:',
      (r['torchProfile'] ?? []) as KernelTime[],
      40,
    ),
  );
  return rows.join('\n');
}

export const benchStepCommand: Command = {
  name: 'bench step',
  summary:
    'time one SupCon training step (ResNet-18, the demo model, vit-tiny or vit-mini), optionally against PyTorch',
  help: `Usage: supcon bench step [--model resnet18-cifar|small-resnet|vit-tiny|vit-mini] [--batch-size N] [--views V] [--precision fp32|bf16] [--backend auto|native|cpu] [--compare-torch [--rounds R]] [--profile] [--json]

Times one full training step on random images: the encoder, the MLP projection head to 128, L2
normalisation, the SupCon loss (τ = 0.1), backward and an SGD-momentum update. Median of --steps
steps after --warmup untimed ones. Prints the CPU (model name and family) and the thread count.

Models:
  resnet18-cifar     CIFAR ResNet-18 (3×3 stem, no max-pool) on 32×32×3; lr 0.05, μ 0.9, no weight decay
  small-resnet       the demo's encoder, head and optimiser (fashion-quick preset): small ResNet of
                     width 16 with a stride-2 stem on 28×28×1, MLP head, SGD μ 0.9 with weight decay
  vit-tiny           the vit-tiny ViT (patch 4: 49 tokens + class token, dim 192, depth 6, 3 heads,
                     MLP ratio 4, exact GELU) in the demo's encoder's place: same images, head,
                     optimiser and batch as small-resnet
  vit-mini           the vit-mini ViT (patch 7: 16 tokens, no class token, dim 64, depth 4, 2 heads,
                     MLP ratio 2, mean pooling, tanh GELU) in the same place

  --model M          resnet18-cifar (default), small-resnet, vit-tiny or vit-mini
  --batch-size N     samples per step (default 64 for resnet18-cifar, the demo's 256 for the others);
                     images per step = N × V
  --views V          views per sample (default 2)
  --steps S          timed steps (default 7)
  --warmup W         untimed steps first (default 2)
  --classes K        label classes (default 10)
  --precision P      fp32 (default) or bf16: our native engine's mixed precision (fp32 where the CPU
                     cannot run bf16, said on stderr); PyTorch runs the step under
                     torch.autocast('cpu', dtype=torch.bfloat16) with the loss in fp32
  --backend B        auto (native if it loads), native or cpu (default auto)
  --profile          add a per-kernel time breakdown of one extra step (first round of each side)
  --compare-torch    run reference/torch_step.py (2 threads, channels-last) and our step alternately,
                     each in its own process: PyTorch, ours, PyTorch, ours, …; prints the ratio of
                     the medians of the round medians and the spread of each side
  --rounds R         rounds of the comparison (default 3, at least 1); needs --compare-torch
  --python PATH      Python with torch for --compare-torch (default /usr/bin/python3)
  --json             print one JSON object`,
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, flagSpecs);
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon bench step --help\`.`);
    const compare = Boolean(flags['compare-torch']);
    if (flags['rounds'] !== undefined && !compare)
      throw new CliError(
        `Invalid use of \`--rounds\`. Expected it with --compare-torch. Received: --rounds ${flags['rounds']} alone.`,
      );
    const model = stepModel(flags['model'] as StepModelName);
    const json = Boolean(flags['json']);
    const common = {
      model,
      precision: flags['precision'] as Precision,
      batch: (flags['batch-size'] as number | undefined) ?? model.defaultBatch,
      views: flags['views'] as number,
      steps: flags['steps'] as number,
      warmup: flags['warmup'] as number,
      classes: flags['classes'] as number,
      profile: Boolean(flags['profile']),
      warn: (line: string) => console.error(line),
    };
    let result: Record<string, unknown>;
    if (compare) {
      result = compareWithTorch({
        ...common,
        backend: flags['backend'] as BackendChoice,
        rounds: (flags['rounds'] as number | undefined) ?? 3,
        python: flags['python'] as string,
      });
    } else {
      const backend = await selectBackend(flags['backend'] as BackendChoice, json);
      result = await measureStep({ ...common, backend });
    }
    const cpu = cpuInfo();
    result = { ...result, cpu: cpu.model, cpuFamily: cpu.family, logicalCpus: cpu.logical };
    console.log(json ? JSON.stringify(result) : report(result, MODEL_TITLE[model.name]));
    return 0;
  },
};
