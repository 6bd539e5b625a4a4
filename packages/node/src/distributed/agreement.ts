/**
 * How the ranks of a run agree before they train: each does its part of the setup, then one all-gather
 * of every rank's outcome makes all of them end with the same error (the first failing rank's), or
 * none. Without it a rank that cannot load its data would leave the others waiting in the first
 * collective; inside the training loop no agreement is possible, so a failure there aborts the job
 * (rank.ts's abortRank). Also the fingerprint of a rank's weights.
 */
import { createHash } from 'node:crypto';
import type { Mpi } from '@supcon/mpi';
import { EXIT_FAILED, type TrainerState, UserError } from 'supcon';

/**
 * A run that could not start on some rank, with the same message and exit code on every rank (the
 * first failing rank's; `rank R: ` in front when it is not rank 0). Only rank 0 needs to print it.
 */
export class DistributedTrainingError extends UserError {}

export interface Outcome {
  ok: boolean;
  message?: string;
  exitCode?: number;
  backend?: string;
  precision?: string;
}

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

/** Runs `work` on every rank, then all agree: every rank throws the first failure, or none does. */
export function agree(mpi: Mpi, work: () => Omit<Outcome, 'ok'> | undefined): Outcome[] {
  let mine: Outcome;
  try {
    mine = { ok: true, ...work() };
  } catch (error) {
    mine = failure(error);
  }
  const all = gatherJson<Outcome>(mpi, mine);
  const bad = all.findIndex((o) => !o.ok);
  if (bad >= 0) {
    const o = all[bad]!;
    throw new DistributedTrainingError(`${bad === 0 ? '' : `rank ${bad}: `}${o.message}`, o.exitCode);
  }
  return all;
}

export async function agreeAsync(mpi: Mpi, work: () => Promise<Omit<Outcome, 'ok'>>): Promise<Outcome[]> {
  let result: Omit<Outcome, 'ok'> | Error;
  try {
    result = await work();
  } catch (error) {
    result = error instanceof Error ? error : new Error(String(error));
  }
  return agree(mpi, () => {
    if (result instanceof Error) throw result;
    return result;
  });
}

export function failure(error: unknown): Outcome {
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, message, exitCode: error instanceof UserError ? error.exitCode : EXIT_FAILED };
}

export function gatherJson<T>(mpi: Mpi, value: T): T[] {
  const bytes = encoder.encode(JSON.stringify(value));
  const lengths = mpi.allGather(new Float32Array([bytes.length]));
  const all = mpi.allGather(bytes);
  const out: T[] = [];
  let at = 0;
  for (const n of lengths) {
    out.push(JSON.parse(decoder.decode(all.subarray(at, at + n))) as T);
    at += n;
  }
  return out;
}

/** SHA-256 of every variable's bytes, in checkpoint order: equal fingerprints mean bit-identical models. */
export function fingerprint(state: TrainerState): string {
  const hash = createHash('sha256');
  for (const [name, v] of Object.entries(state.variables))
    hash.update(name).update(new Uint8Array(v.values.buffer, v.values.byteOffset, v.values.byteLength));
  return hash.digest('hex');
}
