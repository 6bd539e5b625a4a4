/**
 * Child process of train-resume.test.ts: trains (or resumes) the tiny run in argv[2], printing one
 * line per step so the parent can SIGKILL it at a chosen moment.
 */
import { existsSync } from 'node:fs';
import { runFiles, trainRun } from '@supcon/node';
import { quadrantDataset, tinySpec } from './train-fixture.js';

const [dir, resume, epochs] = process.argv.slice(2);
// A kill before the first checkpoint leaves nothing to resume (--resume refuses that): start again.
const resumable = resume === 'resume' && existsSync(runFiles(dir!).checkpoint);
await trainRun(
  tinySpec(Number(epochs ?? 4)),
  dir!,
  { resume: resumable, dataset: quadrantDataset() },
  { onStep: (r) => process.stdout.write(`step ${r.iteration}\n`) },
);
process.stdout.write('done\n');
