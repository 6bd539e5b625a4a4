/** What the MPI training tests compare the ranks with: the one-process Trainer, and a distance. */
import { augmentSteps, buildNetworks, prepareData, type RunSpec } from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import { Augmenter, type Network, shardRange, Trainer, type TrainerState } from 'supcon';
import { quadrantDataset } from './train-fixture.js';

/**
 * `steps` steps of the one-process Trainer of `s` on the quadrant data set, on the whole batch (or,
 * with `perShard: P`, each of P shards forwarded alone: what P ranks do without SyncBatchNorm).
 */
export async function oneProcess(
  s: RunSpec,
  steps: number,
  options: { perShard?: number } = {},
): Promise<TrainerState> {
  const data = await prepareData(s, quadrantDataset());
  const { encoder, head } = buildNetworks(s, data);
  const t = data.train;
  const augment = augmentSteps(s.data.augment, [t.height, t.width], data.dataset.mean, data.dataset.std);
  const augmenter = new Augmenter(augment.train, { height: t.height, width: t.width, channels: t.channels });
  const o = augmenter.output;
  const { batchSize, views } = s.train;
  const parts = options.perShard ?? 1;
  const split: Network = {
    ...encoder,
    apply: (x, training) =>
      tf.concat(
        Array.from({ length: parts }, (_, r) => {
          const sh = shardRange(batchSize, r, parts);
          return encoder.apply(tf.slice(x, sh.start * views, (sh.end - sh.start) * views), training);
        }),
        0,
      ),
  };
  const trainer = new Trainer({
    config: s.train,
    encoder: parts > 1 ? split : encoder,
    head,
    data: t,
    makeViews: (images, count, opts) => augmenter.apply(images, count, opts),
    viewShape: [o.height, o.width, o.channels],
  });
  for (let i = 0; i < steps; i++) trainer.step();
  const state = trainer.state();
  trainer.dispose();
  return state;
}

/** The largest relative difference over the variables `keep` selects (default all), and where. */
export function farthest(
  a: TrainerState,
  b: TrainerState,
  keep: (name: string) => boolean = () => true,
): { name: string; error: number } {
  let worst = { name: '', error: 0 };
  for (const [name, v] of Object.entries(b.variables)) {
    if (!keep(name)) continue;
    const got = a.variables[name]!.values;
    let num = 0;
    let den = 0;
    for (let i = 0; i < v.values.length; i++) {
      num = Math.max(num, Math.abs(got[i]! - v.values[i]!));
      den = Math.max(den, Math.abs(v.values[i]!));
    }
    if (num / den > worst.error) worst = { name, error: num / den };
  }
  return worst;
}
