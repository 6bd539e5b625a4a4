/**
 * `supcon bench step`: median time of one full SupCon training step of a CIFAR ResNet-18
 * (forward of N·V images, projection head, L2-normalise, SupCon loss, backward, SGD-momentum
 * update); with --compare-torch, reference/torch_step.py runs before and after ours (A B A) and
 * the ratio is printed; with --profile, a per-kernel time breakdown of one step.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  createProjectionHead,
  createResNet18,
  projectionHeadForward,
  resNetForward,
  SGD,
  supConLoss,
  trainableVariables,
} from 'supcon';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import type { Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { median, runTorchScript } from '../torch.js';

const flagSpecs = {
  model: { kind: 'string', default: 'resnet18-cifar', choices: ['resnet18-cifar'] },
  'batch-size': { kind: 'int', default: 64, min: 1 },
  views: { kind: 'int', default: 2, min: 1 },
  steps: { kind: 'int', default: 7, min: 1 },
  warmup: { kind: 'int', default: 2, min: 0 },
  classes: { kind: 'int', default: 10, min: 1 },
  backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
  profile: { kind: 'boolean' },
  'compare-torch': { kind: 'boolean' },
  python: { kind: 'string', default: '/usr/bin/python3' },
} as const;

export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

/** One training step as a closure over its model, optimiser and (fixed, random) batch. */
function makeStep(
  batch: number,
  views: number,
  classes: number,
): { step: () => number; dispose: () => void } {
  const net = createResNet18({ seed: 0 });
  const head = createProjectionHead({ seed: 0 });
  const params = trainableVariables(net, head).map((variable) => ({ name: variable.name, variable }));
  const optimizer = new SGD({ momentum: 0.9 });
  const images = tf.randomUniform([views * batch, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D; // [V·N, 32, 32, 3]
  const labels = tf.randomUniformInt([batch], 0, classes, 2) as tf.Tensor1D; // [N]
  const step = (): number =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => {
          const features = resNetForward(net, images, true); // [V·N, 512]
          const z = projectionHeadForward(head, features); // [V·N, 128], unit rows, view-major
          const byView = tf.transpose(tf.reshape(z, [views, batch, -1]), [1, 0, 2]); // [N, V, 128]
          return supConLoss(byView, labels, { temperature: 0.1 }) as tf.Scalar;
        },
        params.map((p) => p.variable),
      );
      optimizer.step(
        params,
        params.map((p) => grads[p.variable.name]!),
        0.05,
      );
      return value.dataSync()[0]!;
    });
  return {
    step,
    dispose: () => {
      optimizer.dispose();
      tf.dispose([images, labels, ...trainableVariables(net, head)]);
    },
  };
}

async function profileStep(step: () => number): Promise<{ totalMs: number; kernels: KernelTime[] }> {
  const start = performance.now();
  const info = await tf.profile(() => {
    step();
  });
  const totalMs = performance.now() - start;
  const byName = new Map<string, KernelTime>();
  for (const k of info.kernels) {
    const t = k.kernelTimeMs as number | { kernelMs?: number } | { error: string };
    const ms = typeof t === 'number' ? t : 'kernelMs' in t ? (t.kernelMs ?? 0) : 0;
    const entry = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    entry.ms += ms;
    entry.calls++;
    byName.set(k.name, entry);
  }
  const kernels = [...byName.values()]
    .sort((a, b) => b.ms - a.ms)
    .map((k) => ({ ...k, ms: Math.round(k.ms * 100) / 100 }));
  return { totalMs, kernels };
}

function torchStep(python: string, batch: number, views: number, steps: number, profile: boolean) {
  const args = ['--batch-size', String(batch), '--views', String(views), '--steps', String(steps)];
  return runTorchScript(python, 'torch_step.py', profile ? [...args, '--profile'] : args);
}

export const benchStepCommand: Command = {
  name: 'bench step',
  summary: 'time one SupCon training step of a CIFAR ResNet-18 (optionally against PyTorch)',
  help: `Usage: supcon bench step [--model resnet18-cifar] [--batch-size N] [--views V] [--backend auto|native|cpu] [--compare-torch] [--profile] [--json]

Times one full training step: N·V random 32×32×3 images through a CIFAR ResNet-18 (3×3 stem,
no max-pool), the MLP projection head to 128, L2 normalisation, the SupCon loss (τ = 0.1),
backward and an SGD-momentum update (lr 0.05, μ 0.9). Median of --steps steps after --warmup.

  --model M          resnet18-cifar (default)
  --batch-size N     samples per step (default 64); images per step = N × V
  --views V          views per sample (default 2)
  --steps S          timed steps (default 7)
  --warmup W         untimed steps first (default 2)
  --classes K        label classes (default 10)
  --backend B        auto (native if it loads), native or cpu (default auto)
  --profile          add a per-kernel time breakdown of one extra step
  --compare-torch    run reference/torch_step.py before and after ours (A B A) and print the ratio
  --python PATH      Python with torch for --compare-torch (default /usr/bin/python3)
  --json             print one JSON object`,
  async run(argv) {
    const { flags } = parseFlags(argv, flagSpecs);
    const batch = flags['batch-size'] as number;
    const views = flags['views'] as number;
    const steps = flags['steps'] as number;
    const warmup = flags['warmup'] as number;
    const profile = Boolean(flags['profile']);
    const compare = Boolean(flags['compare-torch']);
    const python = flags['python'] as string;
    const backend = await selectBackend(flags['backend'] as BackendChoice, Boolean(flags['json']));
    const torchBefore = compare ? torchStep(python, batch, views, steps, profile) : undefined;
    const { step, dispose } = makeStep(batch, views, flags['classes'] as number);
    const msAll: number[] = [];
    const losses: number[] = [];
    const rssMiBAll: number[] = []; // resident memory after every step: it should stay flat
    // Minor page faults per timed step: first touches of fresh memory, which cost time on this VM
    // and, unlike milliseconds, do not depend on what else runs on the machine.
    const faultsAll: number[] = [];
    for (let i = 0; i < warmup + steps; i++) {
      const faults = process.resourceUsage().minorPageFault;
      const start = performance.now();
      losses.push(step());
      if (i >= warmup) {
        msAll.push(performance.now() - start);
        faultsAll.push(process.resourceUsage().minorPageFault - faults);
      }
      rssMiBAll.push(Math.round(process.memoryUsage().rss / 2 ** 20));
    }
    const profiled = profile ? await profileStep(step) : undefined;
    dispose();
    const torchAfter = compare ? torchStep(python, batch, views, steps, false) : undefined;
    const msPerStep = median(msAll);
    const result: Record<string, unknown> = {
      impl: 'supcon',
      model: flags['model'],
      backend,
      batchSize: batch,
      views,
      msPerStep,
      imagesPerSec: (batch * views * 1000) / msPerStep,
      msAll: msAll.map((x) => Math.round(x)),
      minorFaultsPerStep: median(faultsAll),
      minorFaultsAll: faultsAll,
      losses: losses.map((x) => Math.round(x * 1e4) / 1e4),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      rssMiBAll,
    };
    if (profiled) result['profile'] = profiled;
    if (torchBefore && torchAfter) {
      const torchMs = median([torchBefore['msPerStep'] as number, torchAfter['msPerStep'] as number]);
      result['torch'] = { before: torchBefore, after: torchAfter, msPerStep: torchMs };
      result['ratioToTorch'] = msPerStep / torchMs;
    }
    if (flags['json']) {
      console.log(JSON.stringify(result));
      return 0;
    }
    const rows = [
      `ResNet-18 SupCon step, ${batch}×${views} images on ${backend}: ${msPerStep.toFixed(0)} ms/step, ${(result['imagesPerSec'] as number).toFixed(0)} images/s, peak RSS ${result['peakRssMiB']} MiB, ${result['minorFaultsPerStep']} minor page faults/step`,
    ];
    if (result['ratioToTorch'] !== undefined) {
      const t = result['torch'] as { msPerStep: number };
      rows.push(
        `pytorch: ${t.msPerStep.toFixed(0)} ms/step; ratio supcon / pytorch = ${(result['ratioToTorch'] as number).toFixed(2)}`,
      );
    }
    if (profiled) {
      rows.push(`per-kernel time of one profiled step (${profiled.totalMs.toFixed(0)} ms wall):`);
      for (const k of profiled.kernels.slice(0, 25))
        rows.push(`  ${k.name.padEnd(28)} ${k.ms.toFixed(1).padStart(9)} ms  ×${k.calls}`);
      const torchKernels = (torchBefore?.['kernels'] ?? []) as KernelTime[];
      if (torchKernels.length > 0) {
        rows.push('pytorch per-operator self time of one step:');
        for (const k of torchKernels.slice(0, 25))
          rows.push(`  ${k.name.padEnd(40)} ${k.ms.toFixed(1).padStart(9)} ms  ×${k.calls}`);
      }
    }
    console.log(rows.join('\n'));
    return 0;
  },
};
