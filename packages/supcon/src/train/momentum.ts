/**
 * A momentum (key) encoder for the memory queue, in the manner of MoCo (He et al. 2020), which the
 * SupCon paper used for its best small-batch result: the queue is filled with embeddings from a slowly
 * moving copy of the encoder and head instead of the online networks' own outputs, so the rows in the
 * queue stay consistent with each other while the online weights move.
 *
 *   θ_k ← m·θ_k + (1 − m)·θ_q      after every optimiser step, for every trainable variable
 *
 * The key networks are the online networks with other weights: `apply` swaps the key values into
 * the same variables, runs the forward, keeps what the forward changed in the key's own state (its
 * BatchNorm running statistics) and swaps the online values back. So a key encoder needs no second
 * model instance, works for every `Network` and costs one copy of the weights and one forward.
 *
 * @example
 *   const key = new MomentumEncoder([encoder, head], 0.99);
 *   // after optimizer.step(...):
 *   key.update();
 *   const keys = key.apply(() => head.apply(encoder.apply(x, true), true)); // [B·V, D], no gradient
 *   queue.enqueue(tf.reshape(keys, [batch, views, -1]), labels);
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '../errors.js';
import type { Network } from '../models/network.js';
import type { Parameter } from '../optim/types.js';

/** Checkpoint entries of the key weights: `momentum/<variable name>`. */
export const MOMENTUM_PREFIX = 'momentum/';

type Entries = Record<string, { shape: number[]; values: Float32Array }>;

export class MomentumEncoder {
  readonly momentum: number;
  private readonly trainable: Set<string>;
  private readonly all: Parameter[]; // every variable of the networks under `<network>/<name>`
  private readonly keys = new Map<string, tf.Tensor>(); // `<network>/<name>` -> the key's value

  /** `networks`: the online networks by name (their variables become `<network>/<variable>`). */
  constructor(networks: Readonly<Record<string, Network>>, momentum: number) {
    check(
      typeof networks === 'object' && networks !== null && Object.keys(networks).length > 0,
      'networks',
      'an object of networks by name, e.g. { encoder, head }',
      networks,
    );
    check(
      typeof momentum === 'number' && momentum >= 0 && momentum < 1,
      'momentum',
      'a number in [0, 1)',
      momentum,
    );
    this.momentum = momentum;
    const entries = Object.entries(networks);
    const named = (prefix: string, ps: Parameter[]) =>
      ps.map((p) => ({ name: `${prefix}/${p.name}`, variable: p.variable }));
    this.trainable = new Set(entries.flatMap(([k, n]) => named(k, n.parameters()).map((p) => p.name)));
    this.all = entries.flatMap(([k, n]) => named(k, n.variables()));
    for (const p of this.all) {
      check(!this.keys.has(p.name), 'networks', 'networks with distinct variable names', p.name);
      this.keys.set(p.name, tf.keep(tf.clone(p.variable))); // the key starts as the online copy
    }
  }

  /** θ_k ← m·θ_k + (1 − m)·θ_q for the trainable variables (state variables are the key's own). */
  update(): void {
    const m = this.momentum;
    for (const p of this.all) {
      if (!this.trainable.has(p.name)) continue;
      const old = this.keys.get(p.name)!;
      const next = tf.tidy(() => tf.add(tf.mul(old, m), tf.mul(p.variable, 1 - m)));
      this.keys.set(p.name, tf.keep(next));
      old.dispose();
    }
  }

  /**
   * Runs `forward` with the key weights in the networks' variables and returns its result without a
   * gradient path; the online values are back in place afterwards, also when `forward` throws.
   */
  apply<T extends tf.Tensor>(forward: () => T): T {
    const online = this.all.map((p) => tf.keep(tf.clone(p.variable)));
    for (const p of this.all) p.variable.assign(this.keys.get(p.name)!);
    try {
      const out = tf.tidy(() => tf.clone(forward()) as T);
      // what the forward did to the key's state (BatchNorm running statistics) stays the key's
      for (const p of this.all) {
        if (this.trainable.has(p.name)) continue;
        this.keys.get(p.name)!.dispose();
        this.keys.set(p.name, tf.keep(tf.clone(p.variable)));
      }
      return out;
    } finally {
      for (let i = 0; i < this.all.length; i++) this.all[i]!.variable.assign(online[i]!);
      tf.dispose(online);
    }
  }

  /** The key weights as entries `momentum/<network>/<variable>` of a trainer state. */
  save(entries: Entries): void {
    for (const p of this.all) {
      const v = this.keys.get(p.name)!;
      entries[MOMENTUM_PREFIX + p.name] = {
        shape: [...v.shape],
        values: v.dataSync().slice() as Float32Array,
      };
    }
  }

  /** Reads back what `save` wrote. */
  restore(entries: Readonly<Entries>): void {
    for (const p of this.all) {
      const key = MOMENTUM_PREFIX + p.name;
      const saved = entries[key];
      check(
        saved !== undefined,
        'state.variables',
        `an entry ${key} (a run without a momentum encoder?)`,
        'none',
      );
      check(
        saved.shape.join('x') === p.variable.shape.join('x'),
        `state.variables.${key}`,
        `shape [${p.variable.shape}]`,
        `[${saved.shape}]`,
      );
      this.keys.get(p.name)!.dispose();
      this.keys.set(p.name, tf.keep(tf.tensor(saved.values, saved.shape, 'float32')));
    }
  }

  /** The key's current value of `<network>/<variable>` (a copy), for tests and inspection. */
  value(name: string): tf.Tensor {
    const v = this.keys.get(name);
    check(v !== undefined, 'name', 'a variable `<network>/<name>` of the networks', name);
    return tf.clone(v);
  }

  dispose(): void {
    for (const v of this.keys.values()) v.dispose();
    this.keys.clear();
  }
}
