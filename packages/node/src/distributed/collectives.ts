/**
 * The core's `Collectives` (supcon/src/train/distributed.ts) over MPI (@supcon/mpi), plus the stop
 * flag: a rank that was asked to stop (a signal, a time budget) cannot just leave, or the others would
 * wait for it in the next collective. So the request rides on the step's one all-reduce: one float
 * appended (1 if this rank wants to stop, else 0), summed with the gradients; a sum > 0 means every
 * rank saw the same request after the same step, and every rank stops there.
 *
 * @example
 *   const collectives = new MpiCollectives(loadMpi().init());
 *   process.on('SIGTERM', () => collectives.requestStop());
 *   const trainer = new DataParallelTrainer({ ...options, collectives });
 *   while (!trainer.position.done && !collectives.stopRequested) trainer.step();
 */
import type { Mpi } from '@supcon/mpi';
import type { Collectives } from 'supcon';

export class MpiCollectives implements Collectives {
  readonly rank: number;
  readonly size: number;
  /** True once some rank asked to stop, as the last all-reduce told every rank (the same on all). */
  stopRequested = false;
  private wanted = false;

  constructor(readonly mpi: Mpi) {
    this.rank = mpi.rank;
    this.size = mpi.size;
  }

  /** Asks every rank to stop after the step whose all-reduce comes next (safe from a signal handler). */
  requestStop(): void {
    this.wanted = true;
  }

  allGather(local: Float32Array): Float32Array {
    return this.mpi.allGather(local);
  }

  /** The sum over ranks (same bits on every rank), with this rank's stop request fused in. */
  allReduceSum(values: Float32Array): Float32Array {
    const n = values.length;
    const buffer = new Float32Array(n + 1);
    buffer.set(values);
    buffer[n] = this.wanted ? 1 : 0;
    this.mpi.allReduceSum(buffer);
    if (buffer[n]! > 0) this.stopRequested = true;
    return buffer.subarray(0, n);
  }
}
