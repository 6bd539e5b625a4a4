/**
 * One rank of mpi.test.ts, started by mpirun: runs the case named by argv[2] and writes what it saw
 * as `{ rank, … }` to argv[3]/rank-R.json (a file each: long lines of two ranks interleave on stdout).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchedByMpi, loadMpi } from '../src/index.js';

const mpi = loadMpi().init();
const { rank, size } = mpi;
const say = (o: object) =>
  writeFileSync(join(process.argv[3]!, `rank-${rank}.json`), JSON.stringify({ rank, size, ...o }));
const hex = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

switch (process.argv[2]) {
  case 'collectives': {
    // Uneven lengths: rank r sends r + 1 floats (r·10, r·10 + 1, …), and one empty gather.
    const mine = Float32Array.from({ length: rank + 1 }, (_, i) => rank * 10 + i);
    const gathered = mpi.allGather(mine);
    const none = mpi.allGather(new Float32Array(0));
    const bytes = mpi.allGather(Uint8Array.of(rank, 255 - rank));
    // Values whose sum depends on the order of addition; rank r's are a pseudo-random function of r.
    const n = 10_001;
    const values = Float32Array.from(
      { length: n },
      (_, i) => Math.sin(i * 12.9898 + rank * 78.233) * 10 ** ((i % 9) - 4),
    );
    const local = hex(values);
    mpi.allReduceSum(values);
    // Broadcast: root 1's bytes of a length only root knows.
    const message = mpi.broadcastBytes(rank === 1 ? new TextEncoder().encode('from rank 1') : undefined, 1);
    mpi.barrier();
    say({
      launched: launchedByMpi(),
      localRank: mpi.localRank,
      localSize: mpi.localSize,
      gathered: [...gathered],
      none: none.length,
      bytes: [...bytes],
      local,
      sum: hex(values),
      message: new TextDecoder().decode(message),
      library: mpi.library,
    });
    break;
  }
  case 'abort': {
    if (rank === 1) {
      process.stderr.write('rank 1: aborting on purpose\n');
      mpi.abort(3);
    }
    mpi.barrier(); // rank 0 waits here for a rank that never comes: only the abort ends it
    say({ unreachable: true });
    break;
  }
  case 'bad-argument': {
    try {
      mpi.allReduceSum([1, 2] as unknown as Float32Array);
    } catch (error) {
      say({ error: (error as Error).message });
    }
    break;
  }
  default:
    throw new Error(`unknown case ${process.argv[2]}`);
}
mpi.finalize();
