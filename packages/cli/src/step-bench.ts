/**
 * Our side of `supcon bench step`, measured in this process: one full SupCon training step
 * (forward of N·V images, projection head, L2-normalise, SupCon loss, backward, SGD-momentum
 * update) timed `steps` times after `warmup` untimed steps. The backend must already be selected;
 * this module loads nothing native unless the backend is 'native'.
 */

import {
  buildEncoder,
  buildHead,
  type ModelSpec,
  presetSpec,
  type RunPrecision,
  type RunSpec,
} from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import { createOptimizer, median, supConLoss, variableGrads } from 'supcon';
import type { StepModel } from './step-model.js';

/** The native engine's precisions, as the run spec lists them (checked equal in backend.ts). */
export type Precision = RunPrecision;

export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

export interface StepOptions {
  model: StepModel;
  backend: string;
  precision: Precision;
  batch: number;
  views: number;
  steps: number;
  warmup: number;
  classes: number;
  profile: boolean;
  /** Where warnings go (stderr unless --json asked for silence). */
  warn: (line: string) => void;
}

/** The CIFAR ResNet-18 of reference/torch_step.py: 3×3 stem, no max-pool, the SupCon MLP head. */
const RESNET18_CIFAR: ModelSpec = {
  encoder: { kind: 'resnet', depth: 18, stem: 'cifar', widthMultiplier: 1 },
  head: { kind: 'projection', projection: 'mlp', outputDim: 128, normalizeInput: false },
};

/** One training step as a closure over its model, optimiser and (fixed, random) batch. */
function makeStep(o: StepOptions): { step: () => number; params: number; dispose: () => void } {
  const { model, batch, views } = o;
  const spec: RunSpec = model.spec ?? { ...presetSpec('cifar-paper'), model: RESNET18_CIFAR };
  const encoder = buildEncoder(spec.model, model.input, 0);
  const head = buildHead(spec, encoder.outputDim, o.classes);
  const params = [...encoder.parameters(), ...head.parameters()];
  const optimizer = createOptimizer({
    kind: 'sgd',
    momentum: model.momentum,
    weightDecay: model.weightDecay,
  });
  const images = tf.randomUniform([views * batch, ...model.input], 0, 1, 'float32', 1); // [V·N, H, W, C]
  const labels = tf.randomUniformInt([batch], 0, o.classes, 2) as tf.Tensor1D; // [N]
  const step = (): number =>
    tf.tidy(() => {
      const vars = params.map((p) => p.variable);
      const { value, grads } = variableGrads(() => {
        const z = head.apply(encoder.apply(images, true), true); // [V·N, 128], unit rows, view-major
        const byView = tf.transpose(tf.reshape(z, [views, batch, -1]), [1, 0, 2]); // [N, V, 128]
        return supConLoss(byView, labels, { temperature: model.temperature }) as tf.Scalar;
      }, vars);
      optimizer.step(
        params,
        vars.map((v) => grads[v.name]!),
        model.lr,
      );
      return value.dataSync()[0]!;
    });
  return {
    step,
    params: params.reduce((n, p) => n + p.variable.size, 0),
    dispose: () => {
      optimizer.dispose();
      tf.dispose([images, labels, ...[...encoder.variables(), ...head.variables()].map((p) => p.variable)]);
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

/**
 * The precision in effect and the engine's thread count. Precision is a native-engine setting: the
 * pure-JS 'cpu' backend always runs fp32; the native engine keeps fp32 where bf16 cannot run.
 */
async function engineSettings(o: StepOptions): Promise<{ precision: Precision; threads: number }> {
  if (o.backend !== 'native') {
    if (o.precision === 'bf16')
      o.warn(`supcon: warning: the ${o.backend} backend has no bf16; running fp32.`);
    return { precision: 'fp32', threads: 1 };
  }
  const native = await import('@supcon/native');
  const precision = native.setPrecision(o.precision);
  if (precision !== o.precision)
    o.warn(`supcon: warning: bf16 is not available (${native.bf16UnsupportedReason()}); running fp32.`);
  return { precision, threads: native.loadAddon()?.numThreads() ?? 1 };
}

/** Times our step; the result is what `bench step --json` prints for one process. */
export async function measureStep(o: StepOptions): Promise<Record<string, unknown>> {
  const { precision, threads } = await engineSettings(o);
  const { step, params, dispose } = makeStep(o);
  const msAll: number[] = [];
  const losses: number[] = [];
  const rssMiBAll: number[] = []; // resident memory after every step: it should stay flat
  // Minor page faults per timed step: first touches of fresh memory, which cost time on this VM
  // and, unlike milliseconds, do not depend on what else runs on the machine.
  const faultsAll: number[] = [];
  for (let i = 0; i < o.warmup + o.steps; i++) {
    const faults = process.resourceUsage().minorPageFault;
    const start = performance.now();
    losses.push(step());
    if (i >= o.warmup) {
      msAll.push(performance.now() - start);
      faultsAll.push(process.resourceUsage().minorPageFault - faults);
    }
    rssMiBAll.push(Math.round(process.memoryUsage().rss / 2 ** 20));
  }
  const profiled = o.profile ? await profileStep(step) : undefined;
  dispose();
  const msPerStep = median(msAll);
  return {
    impl: 'supcon',
    model: o.model.name,
    backend: o.backend,
    precision,
    requestedPrecision: o.precision,
    threads,
    params,
    batchSize: o.batch,
    views: o.views,
    msPerStep,
    imagesPerSec: (o.batch * o.views * 1000) / msPerStep,
    msAll: msAll.map((x) => Math.round(x * 10) / 10),
    minorFaultsPerStep: median(faultsAll),
    minorFaultsAll: faultsAll,
    losses: losses.map((x) => Math.round(x * 1e4) / 1e4),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    rssMiBAll,
    ...(profiled ? { profile: profiled } : {}),
  };
}
