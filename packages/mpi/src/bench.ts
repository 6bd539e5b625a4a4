/**
 * Latency and bandwidth of the two collectives a data-parallel step makes (`allGather` of the
 * embeddings, `allReduceSum` of the gradients), over mpirun on this machine. `benchCollectives`
 * starts `mpirun -np N` (the flags of launch.ts; `vader` swaps loopback TCP for Open MPI's
 * shared-memory transport) running bench-main.js; each rank runs `timeCollectives`.
 *
 *   const r = await benchCollectives({ processes: 2, transport: 'tcp', cases: [{ op: 'allReduceSum', bytes: 1 << 20 }] });
 *   r.rows[0].medianSeconds  // the slowest rank's time of one call, median over the repeats
 *
 * Sizes are what every rank ends with: the gathered batch for `allGather` (each rank sends 1/N of
 * it), the summed vector for `allReduceSum` (each rank sends all of it).
 */
import { fileURLToPath } from 'node:url';
import { check, median, UserError } from 'supcon';
import type { Mpi } from './index.js';
import { localMpirun } from './launch.js';
import { startMpirun } from './spawn.js';

export const COLLECTIVE_OPS = ['allGather', 'allReduceSum'] as const;
export type CollectiveOp = (typeof COLLECTIVE_OPS)[number];
/** `tcp`: TCP over loopback (what `supcon train --processes N` uses); `vader`: shared memory. */
export const TRANSPORTS = ['tcp', 'vader'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface CollectiveCase {
  op: CollectiveOp;
  /** Bytes every rank holds after the call (a multiple of 4: float32). */
  bytes: number;
}

export interface CollectiveTiming extends CollectiveCase {
  /** Per repeat the slowest rank's seconds (barrier, then the call); the median over repeats. */
  medianSeconds: number;
  minSeconds: number;
  repeats: number;
  /** bytes · 8 / medianSeconds, in Gbit/s (10⁹). */
  gbitPerSecond: number;
}

export interface TimingOptions {
  cases: CollectiveCase[];
  /** Timed calls per case (default 20). */
  repeats?: number;
  /** Untimed calls before them (default 3). */
  warmup?: number;
}

/** Runs on every rank (all with the same options); every rank returns the same rows. */
export function timeCollectives(mpi: Mpi, options: TimingOptions): CollectiveTiming[] {
  const { repeats = 20, warmup = 3 } = options;
  const { rank, size } = mpi;
  return options.cases.map(({ op, bytes }) => {
    const floats = bytes / 4;
    // allGather: rank r sends its share of `floats` (shares differ by at most one).
    const share = Math.floor(floats / size) + (rank < floats % size ? 1 : 0);
    const buffer = new Float32Array(op === 'allGather' ? share : floats).fill(1);
    const call = op === 'allGather' ? () => mpi.allGather(buffer) : () => mpi.allReduceSum(buffer);
    for (let i = 0; i < warmup; i++) {
      call();
      buffer.fill(1);
    }
    const mine = new Float64Array(repeats);
    for (let i = 0; i < repeats; i++) {
      mpi.barrier();
      const started = performance.now();
      call();
      mine[i] = (performance.now() - started) / 1000;
      buffer.fill(1); // the sums would grow without bound
    }
    const all = new Float64Array(mpi.allGather(new Uint8Array(mine.buffer)).slice().buffer); // [size · repeats]
    const slowest = Array.from(mine, (_, i) =>
      Math.max(...Array.from({ length: size }, (_, r) => all[r * repeats + i]!)),
    );
    const medianSeconds = median(slowest);
    return {
      op,
      bytes,
      medianSeconds,
      minSeconds: Math.min(...slowest),
      repeats,
      gbitPerSecond: (bytes * 8) / medianSeconds / 1e9,
    };
  });
}

/** t(bytes) ≈ latencySeconds + bytes / bytesPerSecond. */
export interface LatencyBandwidth {
  latencySeconds: number;
  bytesPerSecond: number;
}

/**
 * The least-squares line through (bytes, seconds) in relative error (weights 1/t²), so the small
 * messages set the latency and the large ones the bandwidth instead of the largest alone deciding
 * both. Needs at least two distinct sizes.
 */
export function fitLatencyBandwidth(points: { bytes: number; medianSeconds: number }[]): LatencyBandwidth {
  check(
    new Set(points.map((p) => p.bytes)).size >= 2,
    'points',
    'at least two distinct sizes',
    points.length,
  );
  let sw = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const { bytes: x, medianSeconds: y } of points) {
    const w = 1 / (y * y);
    sw += w;
    sx += w * x;
    sy += w * y;
    sxx += w * x * x;
    sxy += w * x * y;
  }
  const slope = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
  const intercept = (sy - slope * sx) / sw;
  return { latencySeconds: intercept, bytesPerSecond: 1 / slope };
}

export interface CollectivesBenchOptions extends TimingOptions {
  /** Ranks on this machine (default 2). */
  processes?: number;
  transport: Transport;
  /** Seconds after which mpirun ends the job (default 600). */
  timeoutSeconds?: number;
}

export interface CollectivesBench {
  transport: Transport;
  processes: number;
  /** The MPI library's version string. */
  library: string;
  /** The mpirun command line. */
  command: string;
  rows: CollectiveTiming[];
}

const benchMain = fileURLToPath(new URL('./bench-main.js', import.meta.url));

/** Starts mpirun on this machine with the ranks timing `cases`; resolves with rank 0's report. */
export async function benchCollectives(options: CollectivesBenchOptions): Promise<CollectivesBench> {
  const { processes = 2, transport, cases, repeats = 20, warmup = 3, timeoutSeconds = 600 } = options;
  check(Number.isInteger(processes) && processes >= 2, 'processes', 'an integer >= 2', processes);
  check(TRANSPORTS.includes(transport), 'transport', `one of ${TRANSPORTS.join(', ')}`, transport);
  check(cases.length > 0, 'cases', 'at least one case', cases.length);
  for (const c of cases) {
    check(COLLECTIVE_OPS.includes(c.op), 'op', `one of ${COLLECTIVE_OPS.join(', ')}`, c.op);
    check(
      Number.isInteger(c.bytes) && c.bytes >= 4 && c.bytes % 4 === 0,
      'bytes',
      'a multiple of 4, >= 4',
      c.bytes,
    );
  }
  check(Number.isInteger(repeats) && repeats >= 1, 'repeats', 'an integer >= 1', repeats);
  check(Number.isInteger(warmup) && warmup >= 0, 'warmup', 'an integer >= 0', warmup);
  const job = JSON.stringify({ cases, repeats, warmup });
  const launch = localMpirun({
    processes,
    threads: 1,
    timeoutSeconds,
    command: [process.execPath, benchMain, job],
  });
  // The loopback flags name `btl tcp,self`; shared memory is the same job with `btl vader,self`.
  const at = launch.args.indexOf('tcp,self');
  check(
    at > 0 && launch.args[at - 1] === 'btl',
    'launch',
    'mpirun arguments with --mca btl tcp,self',
    launch.args,
  );
  if (transport === 'vader') launch.args[at] = 'vader,self';
  const run = startMpirun(launch, { stdio: 'pipe', handleSignals: true });
  let stdout = '';
  let stderr = '';
  run.child.stdout?.on('data', (d: Buffer) => {
    stdout += d;
  });
  run.child.stderr?.on('data', (d: Buffer) => {
    stderr += d;
  });
  const { code, signal } = await run.exited;
  const last = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !last.startsWith('{')) {
    const why = stderr.trim().split('\n').at(-1) ?? '';
    throw new UserError(
      `The collectives benchmark over mpirun (${transport}) ended with ${signal ?? `exit code ${code}`}${why ? `: ${why}` : ''}.`,
    );
  }
  const report = JSON.parse(last) as { library: string; rows: CollectiveTiming[] };
  const command = [launch.file, ...launch.args.slice(0, -1), "'<job>'"].join(' ');
  return { transport, processes, library: report.library, command, rows: report.rows };
}
