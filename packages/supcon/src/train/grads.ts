/**
 * `variableGrads`: `tf.variableGrads` with the memory behaviour of PyTorch's autograd.
 *
 * TensorFlow.js walks the tape backward and keeps, until the very end of the backward pass,
 * every tensor the forward pass saved for its gradients and the gradient of every intermediate
 * tensor. For a network that is twice the activations: at the end of a ResNet's backward pass all
 * of its forward activations and all of their gradients are alive at once. PyTorch frees a node's
 * saved tensors once its backward has run and an intermediate gradient once it has been consumed.
 * This walks the same tape with the same gradient functions in the same order (so the gradients
 * are bit-identical to `tf.variableGrads`) and frees both as soon as nothing later needs them:
 *
 *   1. After node i's gradient functions have run, the gradients of its outputs are no longer
 *      needed: every consumer of an output comes later on the tape, so it was processed earlier
 *      in the backward walk and has already added its share. They are disposed, unless the same
 *      tensor object is still held for another tensor (a gradient function may return its `dy`).
 *   2. Node i's saved tensors are used by node i's gradient functions only; they are disposed
 *      then, unless a gradient function returned one of them as a gradient.
 *
 * It relies on the engine's tape (`startTape`, `endTape`, `state.activeTape`), which tfjs-core
 * does not export as API; the version is pinned, and the tests compare the result with
 * `tf.variableGrads` value for value. Inside a higher-order gradient it falls back to
 * `tf.variableGrads`.
 */
import * as tf from '@tensorflow/tfjs-core';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineTape {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

export interface VariableGradsOptions {
  /** Called after each tape node's backward step (for measuring memory in tests and benchmarks). */
  onNode?: () => void;
}

/** The nodes on a path from one of `xs` to `y`, with inputs not reached from `xs` pruned (tfjs's rule). */
function nodesFromXToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const t of Object.values(node.inputs)) toY.add(t.id);
      nodesToY.add(node.id);
    }
  }
  const filtered: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    filtered.push({ ...node, inputs });
  }
  return filtered;
}

/** Gradients by tensor id, counting how many ids hold each gradient tensor (aliases). */
class GradientMap {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();

  get(id: number): tf.Tensor | undefined {
    return this.byId.get(id);
  }
  set(id: number, t: tf.Tensor): void {
    const old = this.byId.get(id);
    if (old) this.release(id);
    this.byId.set(id, t);
    this.holders.set(t, (this.holders.get(t) ?? 0) + 1);
  }
  holds(t: tf.Tensor): boolean {
    return (this.holders.get(t) ?? 0) > 0;
  }
  /** Drops the gradient of `id`; disposes it when no other id holds the same tensor. */
  release(id: number): void {
    const t = this.byId.get(id);
    if (!t) return;
    this.byId.delete(id);
    const n = (this.holders.get(t) ?? 1) - 1;
    if (n > 0) {
      this.holders.set(t, n);
      return;
    }
    this.holders.delete(t);
    t.dispose();
  }
}

/**
 * The value of `f()` and its gradients with respect to `varList`, as `tf.variableGrads(f, varList)`
 * returns them, freeing saved activations and intermediate gradients during the backward pass.
 *
 * @example
 * const { value, grads } = variableGrads(() => supConLoss(z(net, x), labels) as tf.Scalar, params);
 */
export function variableGrads(
  f: () => tf.Scalar,
  varList: tf.Variable[],
  options: VariableGradsOptions = {},
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = tf.engine() as unknown as EngineTape;
  const trainable = varList.filter((v) => v.trainable);
  if (engine.state.gradientDepth !== 0 || trainable.length === 0) return tf.variableGrads(f, varList);
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  if (!(y instanceof tf.Tensor) || y.rank !== 0) {
    throw new Error(`variableGrads: f must return a scalar tensor, but it returned rank ${y?.rank}`);
  }
  const tape = engine.state.activeTape ?? [];
  const nodes = nodesFromXToY(tape, trainable, y);
  const grads = engine.tidy('backward', () => {
    const map = new GradientMap();
    map.set(y.id, tf.onesLike(y));
    const keep = new Set(trainable.map((v) => v.id));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      if (!node.gradient)
        throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const dys = node.outputs.map((o) => map.get(o.id) ?? null);
      const inputGradients = node.gradient(dys);
      for (const [name, x] of Object.entries(node.inputs)) {
        const gradOf = inputGradients[name];
        if (!gradOf) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
        const dx = engine.tidy(name, gradOf);
        const current = map.get(x.id);
        if (current === undefined) {
          map.set(x.id, dx);
        } else {
          map.set(x.id, tf.add(current, dx)); // releases `current`
          if (!map.holds(dx) && !dys.includes(dx)) dx.dispose();
        }
      }
      // (1) the gradients of this node's outputs have been consumed by every reader.
      for (const o of node.outputs) if (!keep.has(o.id)) map.release(o.id);
      // (2) this node's saved tensors serve only its own gradient functions.
      for (const t of node.saved ?? []) if (!map.holds(t)) t.dispose();
      options.onNode?.();
    }
    const named: tf.NamedTensorMap = {};
    for (const v of trainable) {
      const g = map.get(v.id);
      if (g) named[v.name] = g;
    }
    return named;
  });
  for (const node of tape) for (const t of node.saved ?? []) t.dispose();
  engine.state.activeTape = null;
  if (Object.keys(grads).length === 0) {
    throw new Error(
      'Cannot find a connection between any variable and the result of the loss function y=f(x).',
    );
  }
  return { value: y as tf.Scalar, grads };
}
