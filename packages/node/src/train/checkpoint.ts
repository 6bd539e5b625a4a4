/**
 * Checkpoints: one file holding the trainer state (weights, optimiser slots, schedule position,
 * epoch-loss accumulator) and the run's config. Data order and augmentation are pure functions of
 * (seed, epoch, sample), so the position is the whole random state.
 *
 * Layout: "SUPCONCK" | u32 header length | header JSON | float32 payload. The header carries the
 * SHA-256 of the payload, so a torn or altered file is detected on load. Writes are atomic:
 * temp file in the same folder, fsync, rename; a crash leaves the previous checkpoint intact.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { type OptimizerState, type TrainerState, UserError } from 'supcon';
import { upgradeCheckpointNames } from './spec-legacy.js';

const MAGIC = 'SUPCONCK';

/** A checkpoint that cannot be read or trusted (exit code 1). */
export class CheckpointError extends UserError {
  constructor(file: string, reason: string) {
    super(`Checkpoint \`${file}\` is unusable: ${reason}.`);
  }
}

interface Entry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

interface Header {
  version: 1;
  meta: Record<string, unknown>;
  iteration: number;
  epochLoss: TrainerState['epochLoss'];
  optimizer: { kind: string; step: number };
  variables: Entry[];
  slots: Entry[];
  sha256: string;
}

/**
 * Writes `file` atomically and durably (temp + fsync + rename). A failure leaves no temporary file
 * and is reported for `file` itself (with the errno `code` kept), not for the temporary name.
 */
export function writeFileDurable(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw Object.assign(new Error(`Cannot write \`${file}\` (${code ?? (error as Error).message}).`), {
      code,
    });
  }
}

export function saveCheckpoint(file: string, state: TrainerState, meta: Record<string, unknown> = {}): void {
  const chunks: Float32Array[] = [];
  let offset = 0;
  const add = (name: string, t: { shape: number[]; values: Float32Array }): Entry => {
    chunks.push(t.values);
    const e = { name, shape: t.shape, offset, length: t.values.length };
    offset += t.values.length;
    return e;
  };
  const variables = Object.entries(state.variables).map(([n, t]) => add(n, t));
  const slots = Object.entries(state.optimizer.slots).map(([n, t]) => add(n, t));
  const payload = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    payload.set(c, at);
    at += c.length;
  }
  const bytes = new Uint8Array(payload.buffer);
  const header: Header = {
    version: 1,
    meta,
    iteration: state.iteration,
    epochLoss: state.epochLoss,
    optimizer: { kind: state.optimizer.kind, step: state.optimizer.step },
    variables,
    slots,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header));
  // Pad the header so the payload starts 4-byte aligned.
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  const out = Buffer.alloc(MAGIC.length + 4 + json.length + pad + bytes.length, 0x20);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(json.length + pad, MAGIC.length);
  json.copy(out, MAGIC.length + 4);
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).copy(
    out,
    MAGIC.length + 4 + json.length + pad,
  );
  writeFileDurable(file, out);
}

export function loadCheckpoint(file: string): { state: TrainerState; meta: Record<string, unknown> } {
  if (!existsSync(file)) throw new CheckpointError(file, 'the file does not exist');
  const buf = readFileSync(file);
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw new CheckpointError(file, 'it is not a supcon checkpoint (bad magic bytes)');
  }
  const headerLength = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4 + headerLength;
  if (start > buf.length) throw new CheckpointError(file, 'it is truncated (header)');
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, start)) as Header;
  } catch {
    throw new CheckpointError(file, 'its header is not valid JSON');
  }
  const bytes = buf.subarray(start);
  if (createHash('sha256').update(bytes).digest('hex') !== header.sha256) {
    throw new CheckpointError(file, 'its payload does not match the recorded SHA-256 (truncated or altered)');
  }
  const payload = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const read = (entries: Entry[]) =>
    Object.fromEntries(
      entries.map((e) => [e.name, { shape: e.shape, values: payload.slice(e.offset, e.offset + e.length) }]),
    );
  const optimizer: OptimizerState = { ...header.optimizer, slots: read(header.slots) };
  // A checkpoint of an older ResNet run names its head as resnet.ts's head did (spec-legacy.ts).
  const state = upgradeCheckpointNames({
    iteration: header.iteration,
    epochLoss: header.epochLoss,
    variables: read(header.variables),
    optimizer,
  });
  return { state, meta: header.meta };
}
