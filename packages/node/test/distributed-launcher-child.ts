/**
 * Child process of distributed.test.ts: runs trainDistributed (2 ranks under mpirun) and prints
 * mpirun's pid and one line per step, so the test can SIGKILL this process and watch the ranks stop.
 */
import { trainDistributed } from '@supcon/node';
import { quadrantDataset, tinySpec } from './train-fixture.js';

const spec = tinySpec(500); // minutes of training: only the stop ends it within the test
spec.data.augment = 'light';
await trainDistributed(
  spec,
  process.argv[2]!,
  { processes: 2, backend: 'cpu', dataset: quadrantDataset() },
  {
    onStart: ({ pid }) => process.stdout.write(`mpirun ${pid}\n`),
    onStep: (r) => process.stdout.write(`step ${r.iteration}\n`),
  },
);
