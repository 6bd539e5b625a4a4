/**
 * Which parameters get weight decay: by default (`excludeBatchNormAndBias`, LARS always) none of the
 * norms, biases, and the ViT's position embeddings and class token (optim/types.ts,
 * `isExcludedFromDecay`), as the transformer recipes' AdamW. Checked on the ViT's own parameters,
 * named as the trainer names them (`encoder/…`), with zero gradients: then one update scales every
 * decayed parameter by a closed-form factor (AdamW and SGD: 1 − lr·λ; LARS: 1 − lr·η, its trust
 * ratio η‖p‖/‖λp‖ times λp) and leaves every excluded one exactly as it was.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  createOptimizer,
  isExcludedFromDecay,
  type OptimizerConfig,
  type Parameter,
  vitEncoder,
} from 'supcon';

const LR = 0.1;
const LAMBDA = 0.5;
const ETA = 0.001;

for (const pool of ['cls', 'mean'] as const) {
  const enc = vitEncoder({
    patch: 7,
    dim: 8,
    depth: 1,
    heads: 2,
    mlpRatio: 2,
    pool,
    gelu: 'tanh',
    inputShape: [14, 14, 1],
    seed: 3,
  });
  const params: Parameter[] = enc
    .parameters()
    .map((p) => ({ name: `encoder/${p.name}`, variable: p.variable }));
  const excluded = params.filter(isExcludedFromDecay).map((p) => p.name);

  test(`ViT (${pool} pool): norms, biases, position embeddings${pool === 'cls' ? ' and class token' : ''} are left out of weight decay`, () => {
    const expected = params
      .map((p) => p.name)
      .filter((n) => /\/(gamma|beta|bias|pos_embed|cls_token)$/.test(n));
    assert.deepEqual(excluded, expected);
    assert.ok(excluded.includes('encoder/pos_embed'), 'the [T, D] position embeddings, by name');
    assert.equal(excluded.includes('encoder/cls_token'), pool === 'cls');
    // Kernels (patch embedding, attention, MLP) are decayed; the rule is not "everything".
    assert.ok(params.some((p) => p.name.endsWith('/kernel') && !excluded.includes(p.name)));
  });

  const configs: [string, OptimizerConfig, number][] = [
    ['adamw', { kind: 'adam', decoupled: true, weightDecay: LAMBDA }, 1 - LR * LAMBDA],
    ['sgd', { kind: 'sgd', momentum: 0.9, weightDecay: LAMBDA }, 1 - LR * LAMBDA],
    ['lars', { kind: 'lars', momentum: 0.9, weightDecay: LAMBDA, trustCoefficient: ETA }, 1 - LR * ETA],
  ];
  for (const [name, config, factor] of configs)
    test(`ViT (${pool} pool), ${name}: one update with zero gradients decays exactly the parameters not excluded`, () => {
      const before = params.map((p) => p.variable.dataSync().slice());
      const opt = createOptimizer(config);
      const zeros = params.map((p) => tf.zerosLike(p.variable));
      opt.step(params, zeros, LR);
      for (const [i, p] of params.entries()) {
        const now = p.variable.dataSync();
        const f = excluded.includes(p.name) ? 1 : factor;
        for (let j = 0; j < now.length; j++)
          assert.ok(
            Math.abs(now[j]! - f * before[i]![j]!) <= 1e-7 + 1e-6 * Math.abs(before[i]![j]!),
            `${p.name}[${j}]: ${now[j]} vs ${f} × ${before[i]![j]}`,
          );
        p.variable.assign(tf.tensor(before[i]!, p.variable.shape));
      }
      tf.dispose(zeros);
      opt.dispose();
    });

  test(`ViT (${pool} pool): excludeBatchNormAndBias false decays the embeddings too (as plain torch.optim)`, () => {
    const pos = params.find((p) => p.name === 'encoder/pos_embed')!;
    const before = pos.variable.dataSync().slice();
    const opt = createOptimizer({
      kind: 'adam',
      decoupled: true,
      weightDecay: LAMBDA,
      excludeBatchNormAndBias: false,
    });
    const zeros = params.map((p) => tf.zerosLike(p.variable));
    opt.step(params, zeros, LR);
    const now = pos.variable.dataSync();
    for (let j = 0; j < now.length; j++)
      assert.ok(Math.abs(now[j]! - (1 - LR * LAMBDA) * before[j]!) <= 1e-7);
    tf.dispose(zeros);
    opt.dispose();
  });
}

test('the embedding rule matches the name at the end only, under any prefix', () => {
  const v = tf.variable(tf.zeros([3, 2]));
  const named = (name: string) => isExcludedFromDecay({ name, variable: v });
  assert.ok(named('pos_embed') && named('encoder/pos_embed') && named('encoder/cls_token'));
  assert.ok(!named('encoder/pos_embed_proj/kernel') && !named('encoder/block0/mlp/fc1/kernel'));
  v.dispose();
});
