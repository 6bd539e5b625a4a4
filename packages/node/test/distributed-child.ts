/**
 * Child process of distributed.test.ts: a coordinator running trainDistributed (2 workers) that
 * prints its workers' pids and one line per step, so the test can SIGKILL the coordinator itself.
 */
import { trainDistributed } from '@supcon/node';
import { quadrantDataset, tinySpec } from './train-fixture.js';

const spec = tinySpec(50);
spec.data.augment = 'light';
await trainDistributed(
  spec,
  process.argv[2]!,
  { processes: 2, backend: 'cpu', dataset: quadrantDataset() },
  {
    onStart: (workers) => process.stdout.write(`pids ${workers.map((w) => w.pid).join(' ')}\n`),
    onStep: (r) => process.stdout.write(`step ${r.iteration}\n`),
  },
);
