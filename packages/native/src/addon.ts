/**
 * Loads the compiled oneDNN addon (build/Release/supcon_native.node) and describes its functions.
 * Loading never throws: `loadAddon()` returns the addon or `undefined`, and `addonLoadError()`
 * says what failed and how to fix it.
 */
import { createRequire } from 'node:module';

type F32 = Float32Array;
/** fp32 or bf16 (Uint16Array) storage: see precision.ts. */
type Act = Float32Array | Uint16Array;
type Ints = readonly number[];

/** The functions the C++ addon exports (see src/cc/*.cc for the argument order). */
export interface NativeAddon {
  dnnlVersion(): string;
  /** The SupCon loss's per-row pass (supcon_rows.cc); returns the anchors without positives. */
  supconRows(
    logits: F32,
    uncapped: F32,
    capped: F32,
    rowStart: number,
    rows: number,
    batch: number,
    views: number,
    variant: number,
    denominator: number,
    loss: F32,
    valid: F32,
    grad: F32 | null,
  ): number;
  /** What the addon did to glibc malloc at load: 'heap' (tuned), 'system' (left alone) or 'failed'. */
  allocatorMode(): string;
  /** Whether oneDNN can run bf16 convolutions natively on this CPU (avx512_core_bf16 or AMX). */
  bf16Supported?(): boolean;
  widenBf16(src: Uint16Array, dst: F32): void;
  narrowToBf16(src: F32, dst: Uint16Array): void;
  addBf16(a: Uint16Array, b: Uint16Array, out: Uint16Array): void;
  numThreads(): number;
  setNumThreads(n: number): void;
  /** With `bf16`, y must be bf16 storage; inputs in the other storage are converted. */
  conv2d(
    x: Act,
    xShape: Ints,
    w: F32,
    wShape: Ints,
    y: Act,
    yShape: Ints,
    params: Ints,
    bias: F32 | null,
    act: number,
    bf16: boolean,
  ): void;
  conv2dBackpropInput(
    dy: Act,
    dyShape: Ints,
    w: F32,
    wShape: Ints,
    dx: Act,
    dxShape: Ints,
    params: Ints,
    bf16: boolean,
  ): void;
  /** dw is fp32 in both precisions. */
  conv2dBackpropFilter(
    x: Act,
    xShape: Ints,
    dy: Act,
    dyShape: Ints,
    dw: F32,
    wShape: Ints,
    params: Ints,
    bf16: boolean,
  ): void;
  /** Attention from qkv [B, T, 3D] (shape [B, T, heads, d]): o [B, T, D] (bf16 storage allowed with bf16) and p [B, heads, T, T] fp32. */
  attention(qkv: Act, shape: Ints, scale: number, bf16: boolean, o: Act, p: F32): void;
  /** dqkv like qkv from dO [B, T, D], qkv and the forward's p (bf16 storage allowed for all but p with bf16). */
  attentionGrad(dO: Act, qkv: Act, p: F32, shape: Ints, scale: number, bf16: boolean, dqkv: Act): void;
  /** With `bf16`, a and b may have either storage (fp32 is narrowed), the product runs in bf16 and out may be bf16 storage; out is fp32 otherwise. `residual` (fp32, like out) is added in the product's pass. */
  matmul(
    a: Act,
    aShape: Ints,
    b: Act,
    bShape: Ints,
    out: Act,
    ta: boolean,
    tb: boolean,
    bias: F32 | null,
    act: number,
    bf16?: boolean,
    residual?: F32 | null,
  ): void;
  /** A linear layer's gradient: dx = dy wᵀ, dw = xᵀ dy, db = Σ_rows dy; with `bf16` dy and x may be bf16 storage. */
  linearGrad(dy: Act, x: Act, w: F32, dx: Act, dw: F32, db: F32, bf16: boolean): void;
  /** Activations (x, residual, y) in y's storage; others are converted. */
  batchNormTrain(
    x: Act,
    c: number,
    gamma: F32,
    beta: F32,
    residual: Act | null,
    eps: number,
    relu: boolean,
    y: Act,
    mean: F32,
    variance: F32,
  ): void;
  batchNormInfer(
    x: F32,
    c: number,
    gamma: F32,
    beta: F32,
    mean: F32,
    variance: F32,
    residual: F32 | null,
    eps: number,
    relu: boolean,
    y: F32,
  ): void;
  /** Activations (dy, x, y, dx, dresidual) in dx's storage; inputs are converted. */
  batchNormGrad(
    dy: Act,
    x: Act,
    y: Act | null,
    c: number,
    gamma: F32,
    mean: F32,
    variance: F32,
    eps: number,
    dx: Act,
    dgamma: F32,
    dbeta: F32,
    dresidual: Act | null,
  ): void;
  /** LayerNorm over rows of d (transformer.cc): y, and mean, invStd per row. */
  /** y fp32 or bf16 storage (bf16 mode). */
  layerNorm(x: F32, d: number, gamma: F32, beta: F32, eps: number, y: Act, mean: F32, invStd: F32): void;
  layerNormGrad(
    dy: F32,
    x: F32,
    d: number,
    gamma: F32,
    mean: F32,
    invStd: F32,
    dx: F32,
    dgamma: F32,
    dbeta: F32,
  ): void;
  /** GELU, exact (erf) or with `tanh` the tanh approximation; geluGrad writes dy · GELU'(x). */
  /** y fp32 or bf16 storage (bf16 mode). */
  gelu(x: Act, tanh: boolean, y: Act): void;
  geluGrad(dy: Act, x: Act, tanh: boolean, dx: Act): void;
  /** softmax(scale · x) over rows of n; the gradient writes scale · y ⊙ (dy − Σ dy ⊙ y). */
  scaledSoftmax(x: F32, n: number, scale: number, y: F32): void;
  scaledSoftmaxGrad(dy: F32, y: F32, n: number, scale: number, dx: F32): void;
  binary(op: number, a: F32, aShape: Ints, b: F32, bShape: Ints, out: F32, outShape: Ints): void;
  unary(op: number, x: F32, out: F32): void;
  reluGrad(dy: F32, x: F32, out: F32): void;
  transpose(x: F32, shape: Ints, perm: Ints, out: F32): void;
  reduce(op: number, x: F32, shape: Ints, reduceMask: Ints, out: F32): void;
  softmax(x: F32, cols: number, out: F32): void;
  pool2d(x: F32, xShape: Ints, y: F32, yShape: Ints, params: Ints, isMax: boolean): void;
  sgdUpdate(
    p: F32,
    g: F32,
    momentum: F32 | null,
    lr: number,
    mu: number,
    dampening: number,
    weightDecay: number,
    nesterov: boolean,
    first: boolean,
  ): void;
  larsUpdate(
    p: F32,
    g: F32,
    v: F32,
    lr: number,
    mu: number,
    weightDecay: number,
    eta: number,
    nesterov: boolean,
    adapt: boolean,
    first: boolean,
  ): void;
  adamUpdate(
    p: F32,
    g: F32,
    m: F32,
    v: F32,
    first: boolean,
    decayMode: number,
    weightDecay: number,
    shrink: number,
    oneMinusBeta1: number,
    oneMinusBeta2: number,
    beta1: number,
    beta2: number,
    sqrtCorrection2: number,
    epsilon: number,
    stepSize: number,
  ): void;
  pool2dBackward(
    dy: F32,
    x: F32 | null,
    dx: F32,
    xShape: Ints,
    yShape: Ints,
    params: Ints,
    isMax: boolean,
  ): void;
}

export const FIX_COMMAND = 'apt-get install -y libdnnl-dev g++ make python3 && npm rebuild @supcon/native';

let addon: NativeAddon | undefined;
let loadError: string | undefined;
let tried = false;

export function loadAddon(): NativeAddon | undefined {
  if (tried) return addon;
  tried = true;
  // SUPCON_NATIVE_ADDON points at another build (e.g. the AddressSanitizer one, see docs/engine.md).
  const path =
    process.env['SUPCON_NATIVE_ADDON'] ??
    new URL('../../build/Release/supcon_native.node', import.meta.url).pathname;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    loadError = `could not load the native addon ${path}: ${reason}. To fix it, run: ${FIX_COMMAND}`;
  }
  return addon;
}

/** Why the addon failed to load, or undefined when it loaded (or was not tried yet). */
export function addonLoadError(): string | undefined {
  return loadError;
}

/** The loaded addon; throws with the load error when it is not available. */
export function requireAddon(): NativeAddon {
  const a = loadAddon();
  if (!a) throw new Error(loadError);
  return a;
}
