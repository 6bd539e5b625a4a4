/**
 * `supcon bench mpi`: latency and bandwidth of the data-parallel step's two collectives over mpirun
 * on this machine (benchCollectives in @supcon/mpi), on loopback TCP and on shared memory, at
 * message sizes from 1 KiB up to what a step really sends: the gathered embeddings of batch 256 × 2
 * views × 128 floats, and the all-reduced gradients of the demo's small ResNet and of ResNet-18
 * (counted from the models the presets build). Each transport's times are fitted as α + bytes/β.
 */
import {
  benchCollectives,
  buildEncoder,
  buildHead,
  type CollectiveCase,
  type CollectivesBench,
  fitLatencyBandwidth,
  presetSpec,
  TRANSPORTS,
  type Transport,
} from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { cpuInfo } from '../cpu.js';
import { parseFlags } from '../flags.js';

const DEFAULT_SIZES = '1K,4K,16K,64K,256K,1M,4M,16M';
/** The embeddings a step gathers: batch × views × the projection's 128 floats. */
const STEP_BATCH = 256;
const STEP_VIEWS = 2;
const EMBEDDING_DIM = 128;

/** "1K" = 1024 bytes, "4M" = 4·2²⁰, "300" = 300; every size a multiple of 4 (float32). */
function parseSizes(raw: string): number[] {
  return raw.split(',').map((part) => {
    const m = /^(\d+)([KM]?)$/i.exec(part.trim());
    const bytes = m
      ? Number(m[1]) * { '': 1, K: 1024, M: 1 << 20 }[m[2]!.toUpperCase() as '' | 'K' | 'M']
      : NaN;
    if (!(bytes >= 4 && bytes % 4 === 0))
      throw new CliError(
        `Invalid value for \`--sizes\`. Expected comma-separated byte counts (suffix K or M allowed), each a multiple of 4 and at least 4. Received: ${raw}.`,
      );
    return bytes;
  });
}

/** Floats a step all-reduces for a preset's model: every variable (parameters, BatchNorm buffers) and the stop flag. */
function stepReduceFloats(preset: 'fashion-quick' | 'cifar-paper', shape: [number, number, number]): number {
  const spec = presetSpec(preset);
  const encoder = buildEncoder(spec.model, shape, 0);
  const head = buildHead(spec, encoder.outputDim, 10);
  const floats = [...encoder.variables(), ...head.variables()].reduce((n, v) => n + v.variable.size, 0);
  tf.disposeVariables();
  return floats + 1;
}

interface StepSize extends CollectiveCase {
  what: string;
}

async function stepSizes(): Promise<StepSize[]> {
  await selectBackend('cpu', true);
  return [
    {
      what: `embeddings gathered, batch ${STEP_BATCH} × ${STEP_VIEWS} views × ${EMBEDDING_DIM}`,
      op: 'allGather',
      bytes: STEP_BATCH * STEP_VIEWS * EMBEDDING_DIM * 4,
    },
    {
      what: 'small ResNet (fashion-quick) gradient + BatchNorm buffers + stop flag',
      op: 'allReduceSum',
      bytes: stepReduceFloats('fashion-quick', [28, 28, 1]) * 4,
    },
    {
      what: 'ResNet-18 (cifar-paper) gradient + BatchNorm buffers + stop flag',
      op: 'allReduceSum',
      bytes: stepReduceFloats('cifar-paper', [32, 32, 3]) * 4,
    },
  ];
}

const fmtBytes = (b: number) =>
  b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`;

export const benchMpiCommand: Command = {
  name: 'bench mpi',
  summary: 'latency and bandwidth of allGather and allReduceSum over mpirun on this machine',
  help: `Usage: supcon bench mpi [--processes 2] [--transports tcp,vader] [--sizes LIST] [--repeats 20] [--json]

Starts mpirun -np N on this machine (the flags of supcon train --processes N) and times the two
collectives of a data-parallel step: allGather (each rank sends 1/N of SIZE bytes, all receive SIZE)
and allReduceSum (MPI_Reduce to rank 0, then MPI_Bcast: SIZE bytes in and out). A time is the
slowest rank's call after a barrier; the median over the repeats is reported, with SIZE·8/time in
Gbit/s, and per transport and collective a fit t ≈ α + SIZE/β.

  --processes N     ranks (default 2, at least 2)
  --transports LIST tcp (loopback TCP, as training uses) and/or vader (Open MPI's shared memory),
                    comma-separated (default tcp,vader)
  --sizes LIST      bytes, suffix K or M, each a multiple of 4 (default ${DEFAULT_SIZES}, plus the
                    sizes a step sends: the gathered embeddings of ${STEP_BATCH} × ${STEP_VIEWS} views × ${EMBEDDING_DIM}
                    floats, and the all-reduce of the small ResNet and of ResNet-18)
  --repeats N       timed calls per size (default 20)
  --warmup N        untimed calls before them (default 3)
  --json            print one JSON object

Every rank is on this machine: the figures are loopback and shared memory, not a network.`,
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      processes: { kind: 'int', default: 2, min: 2 },
      transports: { kind: 'string', default: TRANSPORTS.join(',') },
      sizes: { kind: 'string' },
      repeats: { kind: 'int', default: 20, min: 1 },
      warmup: { kind: 'int', default: 3, min: 0 },
    });
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon bench mpi --help\`.`);
    const transports = (flags['transports'] as string).split(',').map((t) => t.trim()) as Transport[];
    if (transports.some((t) => !TRANSPORTS.includes(t)) || new Set(transports).size !== transports.length)
      throw new CliError(
        `Invalid value for \`--transports\`. Expected a comma-separated list of distinct values from ${TRANSPORTS.join(', ')}. Received: ${flags['transports']}.`,
      );
    const sizes = parseSizes((flags['sizes'] as string | undefined) ?? DEFAULT_SIZES);
    const steps = flags['sizes'] === undefined ? await stepSizes() : [];
    const cases: CollectiveCase[] = [];
    for (const op of ['allGather', 'allReduceSum'] as const) {
      const all = new Set([...sizes, ...steps.filter((s) => s.op === op).map((s) => s.bytes)]);
      for (const bytes of [...all].sort((a, b) => a - b)) cases.push({ op, bytes });
    }
    const options = {
      processes: flags['processes'] as number,
      cases,
      repeats: flags['repeats'] as number,
      warmup: flags['warmup'] as number,
    };
    const results: (CollectivesBench & {
      fits: Record<string, { latencyMicroseconds: number; gbitPerSecond: number }>;
    })[] = [];
    for (const transport of transports) {
      const r = await benchCollectives({ ...options, transport });
      const fits: Record<string, { latencyMicroseconds: number; gbitPerSecond: number }> = {};
      for (const op of ['allGather', 'allReduceSum']) {
        const rows = r.rows.filter((x) => x.op === op);
        if (new Set(rows.map((x) => x.bytes)).size < 2) continue;
        const fit = fitLatencyBandwidth(rows);
        fits[op] = {
          latencyMicroseconds: fit.latencySeconds * 1e6,
          gbitPerSecond: (fit.bytesPerSecond * 8) / 1e9,
        };
      }
      results.push({ ...r, fits });
    }
    const cpu = cpuInfo();
    const summary = {
      date: new Date().toISOString(),
      cpu: cpu.model,
      cpuFamily: cpu.family,
      logicalCpus: cpu.logical,
      processes: options.processes,
      repeats: options.repeats,
      warmup: options.warmup,
      stepSizes: steps,
      transports: results,
    };
    if (flags['json']) {
      console.log(JSON.stringify(summary));
      return 0;
    }
    const lines = [`CPU: ${cpu.model} (family ${cpu.family ?? 'unknown'}), ${cpu.logical} logical CPUs`];
    for (const t of results) {
      lines.push('', `${t.transport}, ${t.processes} ranks (${t.library.split(',')[0]}): ${t.command}`);
      lines.push(
        `  ${'collective'.padEnd(13)} ${'size'.padStart(11)} ${'median µs'.padStart(11)} ${'Gbit/s'.padStart(8)}`,
      );
      for (const row of t.rows) {
        const step = steps.find((s) => s.op === row.op && s.bytes === row.bytes);
        lines.push(
          `  ${row.op.padEnd(13)} ${fmtBytes(row.bytes).padStart(11)} ${(row.medianSeconds * 1e6).toFixed(1).padStart(11)} ${row.gbitPerSecond.toFixed(2).padStart(8)}${step ? `  ${step.what}` : ''}`,
        );
      }
      for (const [op, f] of Object.entries(t.fits))
        lines.push(
          `  fit ${op}: α ${f.latencyMicroseconds.toFixed(1)} µs, β ${f.gbitPerSecond.toFixed(2)} Gbit/s`,
        );
    }
    console.log(lines.join('\n'));
    return 0;
  },
};
