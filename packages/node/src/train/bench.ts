/**
 * Trainer overhead: the median time of `Trainer.step()` against a bare step of the same model, loss
 * and optimiser (forward, head, SupCon loss, gradients, SGD update, nothing else), measured A B A in
 * one process on random inputs so data loading and augmentation are excluded from both.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createOptimizer, type Network, resolveConfig, supConLoss, Trainer } from 'supcon';
import { buildEncoder, buildHead, presetSpec } from './spec.js';

export interface OverheadResult {
  bareMs: number[];
  trainerMs: number[];
  /** Median trainer step / median bare step. */
  ratio: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function benchTrainerOverhead(options: {
  encoder: 'small-resnet' | 'resnet18' | 'mlp';
  size: number;
  channels: number;
  batchSize: number;
  repeats?: number;
}): OverheadResult {
  const { size, channels, batchSize, repeats = 5 } = options;
  const spec = presetSpec('fashion-quick');
  spec.model.encoder = options.encoder;
  spec.train = resolveConfig({ method: 'supcon', epochs: 1, batchSize, lr: 0.01 });
  const shape: [number, number, number] = [size, size, channels];
  const encoder = buildEncoder(spec.model, shape, 0);
  const head = buildHead(spec, encoder.outputDim, 10);
  const count = batchSize * (3 * repeats + 4);
  const images = new Uint8Array(count * size * size * channels).map((_, i) => (i * 2654435761) >>> 24);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
  const data = { images, labels, count, height: size, width: size, channels };
  const trainer = new Trainer({ config: spec.train, encoder, head, data });
  const optimizer = createOptimizer(spec.train.optimizer);
  const bare = bareStep(encoder, head, optimizer, batchSize, shape);
  const bareMs: number[] = [];
  const trainerMs: number[] = [];
  const time = (f: () => void) => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  for (let i = 0; i < 2; i++) {
    bare();
    trainer.step();
  }
  for (let r = 0; r < repeats; r++) {
    bareMs.push(time(bare));
    trainerMs.push(time(() => trainer.step()));
    bareMs.push(time(bare));
  }
  trainer.dispose();
  optimizer.dispose();
  return { bareMs, trainerMs, ratio: median(trainerMs) / median(bareMs) };
}

function bareStep(
  encoder: Network,
  head: Network,
  optimizer: ReturnType<typeof createOptimizer>,
  batch: number,
  shape: [number, number, number],
): () => void {
  const params = [...encoder.parameters(), ...head.parameters()];
  const x = tf.randomUniform([batch * 2, ...shape]);
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  return () =>
    tf.tidy(() => {
      const vars = params.map((p) => p.variable);
      const { value, grads } = tf.variableGrads(() => {
        const z = head.apply(encoder.apply(x, true), true); // [2B, D]
        return supConLoss(tf.reshape(z, [batch, 2, -1]), labels, { temperature: 0.1 }) as tf.Scalar;
      }, vars);
      optimizer.step(
        params,
        vars.map((v) => grads[v.name]!),
        0.01,
      );
      value.dataSync();
    });
}
