/**
 * One rank of `benchCollectives` (bench.ts), started by mpirun: argv[2] is the JSON of
 * `{ cases, repeats, warmup }`; rank 0 prints `{ library, rows }` as one JSON line on stdout. A rank
 * that fails prints `rank R: …` and aborts the job, so no rank waits in a collective for it.
 */
import { timeCollectives } from './bench.js';
import { loadMpi } from './index.js';

const mpi = loadMpi().init();
try {
  const rows = timeCollectives(mpi, JSON.parse(process.argv[2] ?? '{}'));
  if (mpi.rank === 0) console.log(JSON.stringify({ library: mpi.library, rows }));
  mpi.finalize();
} catch (error) {
  process.stderr.write(`rank ${mpi.rank}: ${(error as Error).message}\n`);
  mpi.abort(1);
}
