/**
 * Simulated data-parallel replicas in one process and one thread, for tests of code that calls
 * blocking collectives (`Collectives`) in the middle of a computation. A replica cannot wait for the
 * others here, so `lockstep` replays: each pass runs every replica from its initial state and stops it
 * (by a throw) at the first collective whose answer is not known yet; the replicas' contributions to
 * it are combined (a float32 sum in rank order, or a concatenation), and the next pass answers it.
 * A run with K collectives takes K + 1 passes. Every replica must make the same calls in the same
 * order, as over MPI; the helper checks that.
 */
import assert from 'node:assert/strict';
import type { Collectives } from 'supcon';

const PENDING = Symbol('a collective whose answer the next pass knows');

/**
 * Runs `run` on `size` simulated replicas in lockstep. `reset` restores the state every replica
 * starts from (called before each replica's run). The sums are float32, added in rank order.
 */
export function lockstep<T>(
  size: number,
  reset: () => void,
  run: (rank: number, group: Collectives) => T,
): T[] {
  const answers: Float32Array[] = [];
  for (;;) {
    const calls: { kind: string; values: Float32Array }[] = [];
    const results: T[] = [];
    for (let rank = 0; rank < size; rank++) {
      reset();
      let next = 0;
      const answer = (kind: string, values: Float32Array) => {
        const k = next++;
        if (k < answers.length) return answers[k]!.slice();
        calls[rank] = { kind, values: values.slice() };
        throw PENDING;
      };
      const group: Collectives = {
        rank,
        size,
        allReduceSum: (v) => answer('sum', v),
        allGather: (v) => answer('gather', v),
      };
      try {
        results.push(run(rank, group));
      } catch (error) {
        if (error !== PENDING) throw error;
      }
    }
    if (results.length === size) return results;
    assert.equal(results.length, 0, 'every replica waits in the same collective, or none does');
    const kind = calls[0]!.kind;
    assert.ok(
      calls.every((c) => c.kind === kind),
      `collective ${answers.length}: every replica makes the same call`,
    );
    if (kind === 'gather') {
      const all = new Float32Array(calls.reduce((n, c) => n + c.values.length, 0));
      let at = 0;
      for (const c of calls) {
        all.set(c.values, at);
        at += c.values.length;
      }
      answers.push(all);
    } else {
      const length = calls[0]!.values.length;
      assert.ok(
        calls.every((c) => c.values.length === length),
        `collective ${answers.length}: equal lengths`,
      );
      const sum = new Float32Array(length);
      for (const c of calls) for (let i = 0; i < length; i++) sum[i] = sum[i]! + c.values[i]!;
      answers.push(sum);
    }
  }
}
