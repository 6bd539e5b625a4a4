/**
 * The program `trainDistributed` starts on every rank (`mpirun … node rank-main.js JOB`): reads the
 * job (a v8-serialised `RankJob`, so an in-memory data set travels too), runs `trainRank`, and
 * reports to the launching process on stdout, one event per line after EVENT_PREFIX (rank 0's
 * progress and result; a setup failure's sentence from rank 0).
 */
import { readFileSync } from 'node:fs';
import { deserialize } from 'node:v8';
import { loadMpi } from '@supcon/mpi';
import { EXIT_FAILED, UserError } from 'supcon';
import { EVENT_PREFIX, type RankEvent } from './events.js';
import { type RankJob, trainRank } from './rank.js';

const job = deserialize(readFileSync(process.argv[2]!)) as RankJob;
const mpi = loadMpi().init();
const emit = (event: RankEvent) => process.stdout.write(`${EVENT_PREFIX}${JSON.stringify(event)}\n`);
const leader = mpi.rank === 0;
let code = 0;
try {
  const result = await trainRank(
    { ...job, handleSignals: true },
    leader
      ? {
          onReady: (info) => emit({ type: 'ready', ...info }),
          onStep: (record) => emit({ type: 'step', record }),
          onEpoch: (record) => emit({ type: 'epoch', record }),
        }
      : {},
  );
  if (leader) emit({ type: 'done', result });
  code = result.interrupted ? 130 : 0;
} catch (error) {
  // trainRank aborts the job itself on a failure inside the loop; what reaches here was agreed on.
  code = error instanceof UserError ? error.exitCode : EXIT_FAILED;
  if (leader) emit({ type: 'error', message: (error as Error).message, exitCode: code });
}
mpi.finalize();
process.exit(code);
