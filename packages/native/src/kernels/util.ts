/** Helpers shared by the native kernels: typed access to the cpu backend's storage and fallback. */

import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { DataId, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { type NativeAddon, requireAddon } from '../addon.js';
import { getPrecision } from '../precision.js';

/**
 * The Float32Array behind a float32 tensor, or null when it is stored otherwise (fall back).
 * A tensor with bf16 storage (see precision.ts) is widened to fp32 for good first: its data id
 * keeps the exact same values, now as floats, for every holder.
 */
export function f32(backend: MathBackendCPU, t: TensorInfo | undefined): Float32Array | null {
  if (t === undefined || t.dtype !== 'float32') return null;
  const data = backend.data.get(t.dataId);
  const values = data?.values;
  if (values instanceof Uint16Array) return widen(data!, values, t.dataId);
  return values instanceof Float32Array ? values : null;
}

/** Storage of a bf16-stored float32 tensor: the upper halves of its floats. */
export type Bf16Array = Uint16Array;
/** An activation's storage as native kernels that take either precision receive it. */
export type Activation = Float32Array | Bf16Array;

/** The storage of a float32 tensor, fp32 or bf16, without conversion (null: fall back). */
export function activation(backend: MathBackendCPU, t: TensorInfo | undefined): Activation | null {
  if (t === undefined || t.dtype !== 'float32') return null;
  const values = backend.data.get(t.dataId)?.values;
  return values instanceof Float32Array || values instanceof Uint16Array ? values : null;
}

/**
 * A float32 input as a kernel that takes either storage in `bf16` mode reads it: as stored (bf16
 * storage stays bf16) with `bf16`, as fp32 otherwise (bf16 storage widened); null: fall back.
 */
export function asStored(
  backend: MathBackendCPU,
  t: TensorInfo | undefined,
  bf16: boolean,
): Activation | null {
  return bf16 ? activation(backend, t) : f32(backend, t);
}

/** Whether native kernels produce bf16 activations now (`setPrecision('bf16')`). */
export function bf16Activations(): boolean {
  return getPrecision() === 'bf16';
}

function widen(data: { values?: unknown }, values: Uint16Array, dataId: DataId): Float32Array {
  const wide = storage32(values.length);
  requireAddon().widenBf16(values, wide);
  data.values = wide;
  unshared.add(wide.buffer);
  home.set(wide, dataId);
  recycle(values, dataId); // the bf16 storage is nobody's now
  return wide;
}

/**
 * Widens every bf16-stored float32 input to fp32 storage: for the cpu kernels, which read
 * `values` as floats. Kernels that only pass a data id on (Reshape, Identity) are left alone.
 */
export function widenInputs(backend: MathBackendCPU, inputs: Record<string, TensorInfo | undefined>): void {
  for (const t of Object.values(inputs)) {
    if (
      t !== undefined &&
      t.dtype === 'float32' &&
      backend.data.get(t.dataId)?.values instanceof Uint16Array
    ) {
      f32(backend, t);
    }
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Storage that only the backend's data map references: allocated by a native kernel and never
 * handed out since. A buffer leaves the set when `readSync`/`dataSync` returns it, or when a cpu
 * kernel returns a view of it (Slice returns a subarray of its input, Reshape the same storage);
 * only storage in this set may be updated in place (see `inPlace`).
 */
const unshared = new WeakSet<ArrayBufferLike>();

/** Marks `values`' storage as possibly referenced outside the data map (never updated in place). */
export function markShared(values: unknown): void {
  if (ArrayBuffer.isView(values)) unshared.delete(values.buffer);
}

/**
 * The float32 storage of `t` if it may be overwritten in place: one tensor or variable holds its
 * data id, the whole buffer is its storage, and no view of it was handed out. Null otherwise.
 */
export function inPlace(backend: MathBackendCPU, t: TensorInfo): Float32Array | null {
  const data = backend.data.get(t.dataId);
  const values = data?.values;
  if (data === undefined || data.refCount !== 1 || !(values instanceof Float32Array)) return null;
  if (values.byteOffset !== 0 || values.byteLength !== values.buffer.byteLength) return null;
  return unshared.has(values.buffer) ? values : null;
}

/** The data id each native output was made under: only there may it be recycled. */
const home = new WeakMap<Activation, DataId>();
/** Recycled output storage by element count, fp32 and bf16 apart (see `setOutputPoolLimit`). */
const pool32 = new Map<number, Float32Array[]>();
const pool16 = new Map<number, Bf16Array[]>();
let pooledBytes = 0;
/** Default pool limit: a training step's transient outputs come back every step, so they fit. */
const DEFAULT_POOL_MIB = 1024;
const poolEnv = process.env['SUPCON_NATIVE_POOL'];
let poolLimitBytes =
  (poolEnv === undefined || poolEnv === '' ? DEFAULT_POOL_MIB : Number(poolEnv) || 0) * 2 ** 20;

/**
 * Keeps up to `mib` MiB of disposed native outputs for reuse by the next output of the same size
 * and storage (0 turns the pool off and drops what it holds). Default: `SUPCON_NATIVE_POOL`
 * (MiB; 0 turns it off), else 1024. Reusing storage spares malloc, the page faults of fresh
 * memory and, above all, V8's garbage collections, which new external buffers of tens of MiB
 * per kernel would otherwise trigger every few kernels.
 */
export function setOutputPoolLimit(mib: number): void {
  poolLimitBytes = Math.max(0, mib) * 2 ** 20;
  if (poolLimitBytes === 0) {
    pool32.clear();
    pool16.clear();
    pooledBytes = 0;
  }
}

/** What the output pool holds now: bytes, and buffers per (storage, element count). */
export function outputPoolStats(): {
  bytes: number;
  buffers: Array<{ storage: 'fp32' | 'bf16'; length: number; count: number }>;
} {
  const buffers = [
    ...[...pool32].map(([length, l]) => ({ storage: 'fp32' as const, length, count: l.length })),
    ...[...pool16].map(([length, l]) => ({ storage: 'bf16' as const, length, count: l.length })),
  ].filter((b) => b.count > 0);
  return { bytes: pooledBytes, buffers };
}

/**
 * Called after the backend dropped `dataId`: keeps its storage for reuse when it is a native
 * output made under that very id (not a view, not another id's alias), never handed out, and the
 * pool has room. tfjs cpu kernels can wrap the same array under a second, internal data id; the
 * `home` check keeps that one from recycling storage its owner still uses.
 */
export function recycle(values: unknown, dataId: DataId): void {
  if (poolLimitBytes === 0 || !(values instanceof Float32Array || values instanceof Uint16Array)) return;
  if (home.get(values) !== dataId) return;
  if (!unshared.has(values.buffer) || pooledBytes + values.byteLength > poolLimitBytes) return;
  home.delete(values);
  if (values instanceof Float32Array) push(pool32, values);
  else push(pool16, values);
  pooledBytes += values.byteLength;
}

function push<T>(pool: Map<number, T[]>, values: T & { length: number }): void {
  const list = pool.get(values.length) ?? [];
  list.push(values);
  pool.set(values.length, list);
}

/** Wraps fresh or recycled `storage` as the output `shape` and remembers where it was made. */
function wrap<T extends Activation>(
  backend: MathBackendCPU,
  shape: number[],
  storage: T,
): [T, () => TensorInfo] {
  unshared.add(storage.buffer);
  return [
    storage,
    () => {
      const info = backend.makeTensorInfo(shape, 'float32', storage as unknown as Float32Array);
      home.set(storage, info.dataId);
      return info;
    },
  ];
}

/**
 * A new float32 output: its storage and the function that wraps it into a TensorInfo.
 * The storage is not zero-filled (every native kernel writes all of its output), which saves a
 * pass over memory per kernel; malloc recycles freed blocks (the addon keeps large blocks on the
 * heap, see src/cc/addon.cc), where a zeroed typed array of the same size would touch fresh pages.
 * Storage of disposed outputs of the same size is reused first (the output pool).
 */
export function output(backend: MathBackendCPU, shape: number[]): [Float32Array, () => TensorInfo] {
  return wrap(backend, shape, storage32(sizeOf(shape)));
}

/** n floats of uninitialised storage: a pooled buffer of that size, else a fresh one. */
function storage32(n: number): Float32Array {
  const pooled = pool32.get(n)?.pop();
  if (pooled) pooledBytes -= pooled.byteLength;
  return pooled ?? new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}

/** n bf16 values of uninitialised storage, pooled or fresh (see storage32). */
function storage16(n: number): Bf16Array {
  const pooled = pool16.get(n)?.pop();
  if (pooled) pooledBytes -= pooled.byteLength;
  return pooled ?? new Uint16Array(Buffer.allocUnsafeSlow(n * 2).buffer, 0, n);
}

/** A new float32 output stored as bf16 (see precision.ts); its storage and the wrapping function. */
export function outputBf16(backend: MathBackendCPU, shape: number[]): [Bf16Array, () => TensorInfo] {
  return wrap(backend, shape, storage16(sizeOf(shape)));
}

/** An activation output: bf16 storage while `setPrecision('bf16')` is in effect, fp32 otherwise. */
export function outputActivation(backend: MathBackendCPU, shape: number[]): [Activation, () => TensorInfo] {
  return bf16Activations() ? outputBf16(backend, shape) : output(backend, shape);
}

/**
 * A native kernel for `kernelName`: `run` returns its output, or null to hand the call to the
 * cpu kernel (unsupported dtype, layout or attribute).
 */
export type NativeRun = (
  args: Parameters<KernelFunc>[0] & { backend: MathBackendCPU },
  addon: NativeAddon,
) => TensorInfo | TensorInfo[] | null;

export interface NativeKernel {
  kernelName: string;
  run: NativeRun;
}

export function withFallback(
  kernel: NativeKernel,
  cpu: KernelConfig | undefined,
  addon: NativeAddon,
): KernelFunc {
  return (args) => {
    const out = kernel.run(args as Parameters<NativeRun>[0], addon);
    if (out !== null) return out;
    if (!cpu) throw new Error(`native backend: no cpu fallback for kernel ${kernel.kernelName}`);
    const backend = args.backend as MathBackendCPU;
    widenInputs(backend, args.inputs as Record<string, TensorInfo | undefined>);
    const result = cpu.kernelFunc(args);
    // A cpu kernel may return a view of an input's storage (Slice of a contiguous block): that
    // storage must never be recycled or updated in place (as backend.ts does for cpu kernels).
    const inputIds = Object.values(args.inputs).map((t) => (t as TensorInfo | undefined)?.dataId);
    for (const info of Array.isArray(result) ? result : [result]) {
      if (!inputIds.includes(info.dataId)) markShared(backend.data.get(info.dataId)?.values);
    }
    return result;
  };
}
