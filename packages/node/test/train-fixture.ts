/** A tiny synthetic dataset and run spec shared by the training tests and their child process. */
import type { Dataset, ImageSet, RunSpec } from '@supcon/node';
import { presetSpec } from '@supcon/node';
import { Random, resolveConfig } from 'supcon';

/** 8×8 grey images: class c lights up quadrant c (of 4), plus noise. */
export function quadrantSet(count: number, seed: number): ImageSet {
  const r = new Random(seed);
  const images = new Uint8Array(count * 64);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % 4;
    labels[i] = c;
    for (let p = 0; p < 64; p++) {
      const lit = Math.floor(Math.floor(p / 8) / 4) * 2 + Math.floor((p % 8) / 4) === c;
      images[i * 64 + p] = Math.floor((lit ? 140 : 40) + 110 * r.next());
    }
  }
  return { images, labels, count, height: 8, width: 8, channels: 1 };
}

export function quadrantDataset(): Dataset {
  return {
    name: 'mnist',
    path: '(synthetic)',
    classes: ['a', 'b', 'c', 'd'],
    train: quadrantSet(112, 1),
    test: quadrantSet(40, 2),
    mean: [0.5],
    std: [0.25],
  };
}

export function tinySpec(epochs = 4): RunSpec {
  const spec = presetSpec('fashion-quick');
  spec.train = resolveConfig({
    method: 'supcon',
    epochs,
    batchSize: 16,
    lr: 0.1,
    warmupEpochs: 0.5,
    optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 },
    seed: 4,
  });
  spec.model = {
    encoder: { kind: 'mlp', hidden: [16, 8] },
    head: { kind: 'projection', projection: 'mlp', outputDim: 8, normalizeInput: false },
  };
  spec.data = { dataset: 'synthetic', validation: 16, limit: 0, augment: 'light' };
  spec.checkpointEvery = 1;
  spec.probeEpochs = 5;
  return spec;
}
