/**
 * @supcon/mpi: blocking MPI collectives for Node, a small N-API addon over the MPI C API (Open MPI
 * and MPICH both build it). It is what supcon's data-parallel training runs on: start the processes
 * with a launcher (`mpirun -np 2 node script.js`, `srun --mpi=pmix`, the MPI Operator) and in each:
 *
 *   import { launchedByMpi, loadMpi } from '@supcon/mpi';
 *   if (launchedByMpi()) {
 *     const mpi = loadMpi().init();                  // MPI_Init_thread(FUNNELED), on this thread
 *     const all = mpi.allGather(new Float32Array([mpi.rank]));  // [0, 1, …] on every rank
 *     mpi.finalize();
 *   }
 *
 * Every call blocks the JavaScript main thread until every rank has made it, which is what lets a
 * collective run inside a (synchronous) TensorFlow.js gradient tape. All ranks must make the same
 * calls in the same order. MPI is initialised only when a launcher started the process: Open MPI's
 * "singleton" init of a plain `node` process forks a daemon, so `init()` refuses without one.
 */
import { createRequire } from 'node:module';
import { check, UserError } from 'supcon';

/** The command that installs what the addon needs and rebuilds it (Debian/Ubuntu). */
export const MPI_FIX_COMMAND =
  'apt-get install -y openmpi-bin libopenmpi-dev g++ make python3 && npm rebuild @supcon/mpi';

/** The environment variables a launcher sets: Open MPI's mpirun, PMIx (Slurm, prrte), PMI (MPICH, Slurm). */
export const LAUNCHER_VARIABLES = ['OMPI_COMM_WORLD_SIZE', 'PMIX_RANK', 'PMI_RANK'] as const;

/** Whether an MPI launcher started this process (one of LAUNCHER_VARIABLES is set). */
export function launchedByMpi(env: NodeJS.ProcessEnv = process.env): boolean {
  return LAUNCHER_VARIABLES.some((name) => env[name] !== undefined && env[name] !== '');
}

/** The addon's exports (src/cc/mpi.cc); `Mpi` validates before calling them. */
interface Addon {
  init(): number;
  rank(): number;
  size(): number;
  localRank(): number;
  localSize(): number;
  allgatherv<T extends Float32Array | Uint8Array>(local: T): T;
  allreduceSum(values: Float32Array): Float32Array;
  broadcast<T extends Float32Array | Uint8Array>(data: T, root: number): T;
  barrier(): void;
  abort(code: number): never;
  finalize(): void;
  state(): { initialized: boolean; finalized: boolean; library: string };
}

/** The MPI addon is missing or cannot load; the message says what failed and how to fix it. */
export class MpiUnavailableError extends UserError {}

let addon: Addon | undefined;
let loadError: string | undefined;

function loadAddon(): Addon {
  if (addon) return addon;
  if (loadError === undefined) {
    const path =
      process.env['SUPCON_MPI_ADDON'] ??
      new URL('../../build/Release/supcon_mpi.node', import.meta.url).pathname;
    try {
      addon = createRequire(import.meta.url)(path) as Addon;
      return addon;
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      loadError = `The MPI addon ${path} could not be loaded (${reason}); install Open MPI and rebuild it: ${MPI_FIX_COMMAND}.`;
    }
  }
  throw new MpiUnavailableError(loadError);
}

/** Why the addon does not load, or undefined when it does. Never throws. */
export function mpiLoadError(): string | undefined {
  try {
    loadAddon();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Blocking collectives on MPI_COMM_WORLD; one instance per process (`loadMpi()`). */
export class Mpi {
  private readonly native: Addon;

  /** @internal use loadMpi() */
  constructor(native: Addon) {
    this.native = native;
  }

  /**
   * MPI_Init_thread with MPI_THREAD_FUNNELED (idempotent): call it on the main thread, which then
   * makes every MPI call. Refused when no launcher started the process (see `launchedByMpi`).
   */
  init(): this {
    if (this.native.state().initialized) return this;
    if (!launchedByMpi())
      throw new MpiUnavailableError(
        `MPI is initialised only in a process an MPI launcher started (none of ${LAUNCHER_VARIABLES.join(', ')} is set); run it as \`mpirun -np N node …\`.`,
      );
    this.native.init();
    return this;
  }

  /** Whether init() has run and finalize() has not. */
  get active(): boolean {
    const s = this.native.state();
    return s.initialized && !s.finalized;
  }

  /** The MPI library's version string (MPI_Get_library_version). */
  get library(): string {
    return this.native.state().library;
  }

  /** This process's rank in MPI_COMM_WORLD, 0 … size − 1. */
  get rank(): number {
    return this.native.rank();
  }

  /** The number of processes in MPI_COMM_WORLD. */
  get size(): number {
    return this.native.size();
  }

  /** Rank among the processes on this node (MPI_Comm_split_type MPI_COMM_TYPE_SHARED). */
  get localRank(): number {
    return this.native.localRank();
  }

  /** The number of processes on this node: divide the cores by it for each rank's threads. */
  get localSize(): number {
    return this.native.localSize();
  }

  /**
   * Every rank's `local` concatenated in rank order, on every rank (MPI_Allgatherv; the lengths may
   * differ: they are gathered first). A Uint8Array gathers bytes, a Float32Array floats.
   *
   * @example mpi.allGather(new Float32Array(mpi.rank + 1)) // length 1 + 2 + … + size
   */
  allGather<T extends Float32Array | Uint8Array>(local: T): T {
    check(
      local instanceof Float32Array || local instanceof Uint8Array,
      'local',
      'a Float32Array or Uint8Array',
      local,
    );
    return this.native.allgatherv(local);
  }

  /**
   * The element-wise sum over ranks, written into `values` and returned; the same bits on every rank.
   * MPI_Allreduce does not promise that (the standard only recommends the same result for the same
   * order of arguments, and algorithms such as recursive doubling add in a different order on each
   * rank), so this is MPI_Reduce to rank 0, one summation in one order, then MPI_Bcast of its bytes.
   * With 2 ranks the result is exactly rank 0 + rank 1; with more, the order is the reduce
   * algorithm's (fixed for a given library, rank count and length), not necessarily rank order.
   */
  allReduceSum(values: Float32Array): Float32Array {
    check(values instanceof Float32Array, 'values', 'a Float32Array', values);
    return this.native.allreduceSum(values);
  }

  /** Rank `root`'s `data` copied into `data` on every rank, in place (every rank passes the same length). */
  broadcast<T extends Float32Array | Uint8Array>(data: T, root = 0): T {
    check(
      data instanceof Float32Array || data instanceof Uint8Array,
      'data',
      'a Float32Array or Uint8Array',
      data,
    );
    this.checkRoot(root);
    return this.native.broadcast(data, root);
  }

  /** Rank `root`'s bytes on every rank, whatever their length (only `root` passes them). */
  broadcastBytes(data: Uint8Array | undefined, root = 0): Uint8Array {
    this.checkRoot(root);
    const mine = this.rank === root;
    check(!mine || data instanceof Uint8Array, 'data', `a Uint8Array on the root rank ${root}`, data);
    const length = new Float64Array([mine ? data!.length : 0]);
    this.native.broadcast(new Uint8Array(length.buffer), root);
    const out = mine ? data! : new Uint8Array(length[0]!);
    return this.native.broadcast(out, root);
  }

  /** Blocks until every rank has called it. */
  barrier(): void {
    this.native.barrier();
  }

  /**
   * Ends every process of the job with exit code `code` (MPI_Abort on MPI_COMM_WORLD), so no rank is
   * left waiting in a collective for one that failed. Does not return.
   */
  abort(code = 1): never {
    check(Number.isInteger(code) && code >= 0 && code <= 255, 'code', 'an integer in [0, 255]', code);
    return this.native.abort(code);
  }

  /** MPI_Finalize (idempotent); after it no MPI call is possible in this process. */
  finalize(): void {
    this.native.finalize();
  }

  private checkRoot(root: number): void {
    const size = this.size;
    check(Number.isInteger(root) && root >= 0 && root < size, 'root', `a rank in [0, ${size})`, root);
  }
}

let instance: Mpi | undefined;

/**
 * The process's `Mpi` (not yet initialised: call `init()`). Throws `MpiUnavailableError`, one
 * sentence saying what is missing and the command that installs it, when the addon does not load.
 */
export function loadMpi(): Mpi {
  instance ??= new Mpi(loadAddon());
  return instance;
}

export {
  benchCollectives,
  COLLECTIVE_OPS,
  type CollectiveCase,
  type CollectiveOp,
  type CollectivesBench,
  type CollectiveTiming,
  fitLatencyBandwidth,
  type LatencyBandwidth,
  TRANSPORTS,
  type Transport,
  timeCollectives,
} from './bench.js';
export {
  killedRankMessage,
  LOOPBACK_FLAGS,
  type LocalLaunchOptions,
  localMpirun,
  threadsPerRank,
} from './launch.js';
export { type MpirunJob, startMpirun } from './spawn.js';
