/**
 * How supcon starts N ranks on this machine: one `mpirun` command line, used by `supcon train
 * --processes N`, `trainDistributed` and the tests, so the flags live in one place.
 *
 *   mpirun -np N -q --oversubscribe --bind-to none --mca pml ob1 --mca btl tcp,self
 *          --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo -x OMP_NUM_THREADS=T node …
 *
 * - `--bind-to none`: Open MPI binds each rank to a core by default, which would pin all of a
 *   rank's OpenMP threads onto one core; the ranks' OMP_NUM_THREADS share the cores instead.
 * - `pml ob1`, `btl tcp,self`, `*_if_include lo`: all traffic (the collectives and mpirun's own
 *   out-of-band channel) over TCP on loopback, so nothing listens on or probes other interfaces and
 *   no shared-memory transport (vader) needs /dev/shm space. On a cluster, leave these out.
 * - `-q`: Open MPI's multi-line banners about a failed rank are left out; the rank's own one-sentence
 *   error (`rank R: …`) is what stays on stderr.
 * - `--oversubscribe`: more ranks than Open MPI counts slots (cores) is allowed (tests on 2 cores).
 * - OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM): mpirun refuses to run as root without them; set only for root.
 */
import { availableParallelism, constants } from 'node:os';
import { check } from 'supcon';

export interface LocalLaunchOptions {
  /** Ranks to start (-np). */
  processes: number;
  /** OMP_NUM_THREADS of every rank. Default: max(1, floor(cores / processes)). */
  threads?: number;
  /** Seconds after which mpirun kills the job (`--timeout`); default none. */
  timeoutSeconds?: number;
  /** The program every rank runs and its arguments, e.g. [process.execPath, 'script.js', …]. */
  command: readonly string[];
  /** More `-x NAME` (exported from this environment) or `-x NAME=VALUE` entries. */
  exports?: readonly string[];
}

/** The default threads per rank: the cores divided by the ranks on this machine, at least 1. */
export function threadsPerRank(processes: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / processes));
}

/** The mpirun flags that keep every byte on loopback TCP (see the file's comment). */
export const LOOPBACK_FLAGS: readonly string[] = [
  '--mca',
  'pml',
  'ob1',
  '--mca',
  'btl',
  'tcp,self',
  '--mca',
  'btl_tcp_if_include',
  'lo',
  '--mca',
  'oob_tcp_if_include',
  'lo',
];

/** `{ file, args, env }` for spawning mpirun with `options` on this machine. */
export function localMpirun(
  options: LocalLaunchOptions,
  env: NodeJS.ProcessEnv = process.env,
): { file: string; args: string[]; env: NodeJS.ProcessEnv; threads: number } {
  const { processes, command } = options;
  check(Number.isInteger(processes) && processes >= 1, 'processes', 'an integer >= 1', processes);
  const threads = options.threads ?? threadsPerRank(processes);
  check(Number.isInteger(threads) && threads >= 1, 'threads', 'an integer >= 1', threads);
  check(command.length > 0, 'command', 'a program to run and its arguments', command);
  const timeout = options.timeoutSeconds;
  if (timeout !== undefined)
    check(Number.isInteger(timeout) && timeout > 0, 'timeoutSeconds', 'an integer > 0', timeout);
  const args = [
    '-np',
    String(processes),
    '-q',
    '--oversubscribe',
    '--bind-to',
    'none',
    ...LOOPBACK_FLAGS,
    ...(timeout === undefined ? [] : ['--timeout', String(timeout)]),
    '-x',
    `OMP_NUM_THREADS=${threads}`,
    ...(options.exports ?? []).flatMap((x) => ['-x', x]),
    ...command,
  ];
  const root = process.getuid?.() === 0;
  const childEnv = root ? { ...env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' } : env;
  return { file: env['SUPCON_MPIRUN'] ?? 'mpirun', args, env: childEnv, threads };
}

/**
 * The sentence for an mpirun that ended because a rank (or mpirun itself) was killed by a signal:
 * with `-q` Open MPI prints nothing then, and mpirun exits with 128 + the signal's number. Undefined
 * for other exits (0, a rank's own exit code, 130 for a clean stop after a signal).
 */
export function killedRankMessage(code: number | null, signal: NodeJS.Signals | null): string | undefined {
  if (signal) return `mpirun was killed by ${signal}; its ranks were stopped.`;
  if (code === null || code <= 128 || code === 130) return undefined;
  const name =
    Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0] ?? `signal ${code - 128}`;
  return `An MPI rank was killed by ${name} (mpirun exit code ${code}, e.g. out of memory or a crash); mpirun stopped the other ranks.`;
}
