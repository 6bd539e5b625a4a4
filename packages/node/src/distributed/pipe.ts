/**
 * The wire of the collectives: one socket pair per worker (fd 4 of the child), frames of
 *   u32 op | u32 byte length | float32 payload.
 * The worker side is synchronous (blocking `readSync`/`writeSync`), because the all-gather runs
 * inside the gradient tape; the coordinator side is the event loop's. The coordinator answers a
 * collective once every rank has sent its frame, summing in rank order so every rank gets the same bits.
 */
import { readSync, writeSync } from 'node:fs';
import { type Collectives, UserError } from 'supcon';

export const OP_GATHER = 1;
export const OP_SUM = 2;
/** Set in the op of a sum's answer: every rank stops after this step (same step on every rank). */
export const FLAG_STOP = 0x100;
/** The collectives' fd in the worker (stdio slot 4; 3 is Node's IPC channel). */
export const WORKER_FD = 4;

export class CoordinatorGoneError extends UserError {
  constructor() {
    super('The coordinator closed the collectives pipe (it exited or stopped the run).');
  }
}

/** Blocking collectives over a socket fd, for the worker process. */
export class PipeCollectives implements Collectives {
  /** True once the coordinator has asked every rank to stop after the current step. */
  stopRequested = false;
  private readonly header = new Uint32Array(2);

  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly fd = WORKER_FD,
  ) {}

  allGather(local: Float32Array): Float32Array {
    return this.exchange(OP_GATHER, local);
  }

  allReduceSum(values: Float32Array): Float32Array {
    return this.exchange(OP_SUM, values);
  }

  private exchange(op: number, data: Float32Array): Float32Array {
    this.header[0] = op;
    this.header[1] = data.byteLength;
    this.writeAll(new Uint8Array(this.header.buffer));
    this.writeAll(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.readAll(new Uint8Array(this.header.buffer));
    const answer = this.header[0]!;
    if ((answer & 0xff) !== op)
      throw new Error(`Collectives protocol error: sent op ${op}, answer ${answer}.`);
    if (answer & FLAG_STOP) this.stopRequested = true;
    const out = new Float32Array(this.header[1]! / 4);
    this.readAll(new Uint8Array(out.buffer));
    return out;
  }

  private writeAll(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) at += writeSync(this.fd, bytes, at, bytes.length - at);
  }

  private readAll(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const n = readSync(this.fd, bytes, at, bytes.length - at, null);
      if (n === 0) throw new CoordinatorGoneError();
      at += n;
    }
  }
}

/** Collects one worker's incoming bytes and cuts them into frames. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  hasFrame(): boolean {
    return this.buffered >= 8 && this.buffered >= 8 + this.peek(8).readUInt32LE(4);
  }

  /** The next complete frame, or undefined. The payload is copied into its own aligned Float32Array. */
  next(): { op: number; data: Float32Array } | undefined {
    if (this.buffered < 8) return undefined;
    const head = this.peek(8);
    const op = head.readUInt32LE(0);
    const length = head.readUInt32LE(4);
    if (this.buffered < 8 + length) return undefined;
    const all = this.peek(8 + length);
    const data = new Float32Array(length / 4);
    new Uint8Array(data.buffer).set(all.subarray(8, 8 + length));
    this.drop(8 + length);
    return { op, data };
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private drop(n: number): void {
    const first = this.chunks[0]!;
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
  }
}

/** One frame's bytes (little-endian header, as the worker's Uint32Array on x86/ARM). */
export function frame(op: number, data: Float32Array): Buffer[] {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(op, 0);
  head.writeUInt32LE(data.byteLength, 4);
  return [head, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}
