/**
 * The models `supcon bench step` times, described once for both sides: our in-process step
 * (step-bench.ts) builds them from this description, and reference/torch_step.py receives the same
 * numbers as flags, so the PyTorch baseline cannot drift from ours unnoticed. small-resnet is read
 * from the demo's preset (fashion-quick), so the benchmark follows the demo when the demo changes;
 * vit-tiny and vit-mini are those ViT presets in the demo encoder's place (same head, optimiser,
 * batch and images).
 * Importing this module loads no backend: the comparing parent process uses it too.
 */
import { presetSpec, type RunSpec } from '@supcon/node';
import { VIT_PRESETS } from 'supcon';
import { CliError } from './command.js';

export const STEP_MODELS = ['resnet18-cifar', 'small-resnet', 'vit-tiny', 'vit-mini'] as const;
export type StepModelName = (typeof STEP_MODELS)[number];

export interface StepModel {
  name: StepModelName;
  /** One image, [H, W, C]. */
  input: [number, number, number];
  /** Samples per step when --batch-size is not given. */
  defaultBatch: number;
  lr: number;
  momentum: number;
  /** L2 weight decay, applied to weights of rank ≥ 2 only (BatchNorm and biases excluded). */
  weightDecay: number;
  temperature: number;
  /** small-resnet: the demo's spec (encoder, head, optimiser); absent for resnet18-cifar. */
  spec?: RunSpec;
  /** The same model and optimiser as reference/torch_step.py flags. */
  torchArgs: string[];
}

export function stepModel(name: StepModelName): StepModel {
  if (name === 'resnet18-cifar') {
    // The SupCon reference's CIFAR ResNet-18 at the step's usual lr; no weight decay, as before.
    const base = { lr: 0.05, momentum: 0.9, weightDecay: 0, temperature: 0.1 };
    return { name, input: [32, 32, 3], defaultBatch: 64, ...base, torchArgs: torchArgs(name, base) };
  }
  const demo = presetSpec('fashion-quick');
  const spec: RunSpec =
    name === 'vit-tiny' || name === 'vit-mini'
      ? { ...demo, model: { ...demo.model, encoder: { kind: 'vit', ...VIT_PRESETS[name] } } }
      : demo;
  const { train } = spec;
  const { head } = spec.model;
  const encoder = demo.model.encoder;
  if (
    encoder.kind !== 'small-resnet' ||
    head.kind !== 'projection' ||
    head.projection !== 'mlp' ||
    head.normalizeInput ||
    train.optimizer.kind !== 'sgd' ||
    train.optimizer.excludeBatchNormAndBias === false
  ) {
    const projection = head.kind === 'projection' ? head.projection : head.kind;
    throw new CliError(
      `bench step --model ${name} mirrors the demo's small ResNet (or its ViT in the encoder's place) with an MLP head and SGD, which reference/torch_step.py reproduces; the demo preset now has encoder ${encoder.kind}, projection ${projection}, optimizer ${train.optimizer.kind}: update both.`,
    );
  }
  const base = {
    lr: train.lr,
    momentum: train.optimizer.momentum ?? 0.9,
    weightDecay: train.optimizer.weightDecay ?? 0,
    temperature: train.temperature,
  };
  const vit = spec.model.encoder;
  const arch =
    vit.kind === 'vit'
      ? [
          ...['--patch', String(vit.patch), '--dim', String(vit.dim), '--depth', String(vit.depth)],
          ...['--heads', String(vit.heads), '--mlp-ratio', String(vit.mlpRatio), '--pool', vit.pool],
          ...['--gelu', vit.gelu, '--projection-dim', String(head.outputDim)],
        ]
      : [
          ...['--width', String(encoder.baseChannels), '--blocks-per-stage', String(encoder.blocksPerStage)],
          ...['--stem-stride', String(encoder.stemStride), '--projection-dim', String(head.outputDim)],
        ];
  return {
    name,
    input: [28, 28, 1], // Fashion-MNIST, the demo's dataset
    defaultBatch: train.batchSize,
    ...base,
    spec,
    torchArgs: [...torchArgs(name, base), ...arch],
  };
}

function torchArgs(
  name: StepModelName,
  o: { lr: number; momentum: number; weightDecay: number; temperature: number },
): string[] {
  return [
    ...['--model', name, '--lr', String(o.lr), '--momentum', String(o.momentum)],
    ...['--weight-decay', String(o.weightDecay), '--temperature', String(o.temperature)],
  ];
}
