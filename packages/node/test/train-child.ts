/**
 * Child process of train-resume.test.ts: trains (or resumes) the tiny run in argv[2], printing one
 * line per step so the parent can SIGKILL it at a chosen moment.
 */
import { trainRun } from '@supcon/node';
import { quadrantDataset, tinySpec } from './train-fixture.js';

const [dir, resume, epochs] = process.argv.slice(2);
await trainRun(
  tinySpec(Number(epochs ?? 4)),
  dir!,
  { resume: resume === 'resume', dataset: quadrantDataset() },
  { onStep: (r) => process.stdout.write(`step ${r.iteration}\n`) },
);
process.stdout.write('done\n');
