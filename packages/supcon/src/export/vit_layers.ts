/**
 * The ViT in the TensorFlow.js layers format. tfjs-layers has no multi-head attention layer, no
 * class token and no exact GELU, so the parts the stock layers lack are custom layers here, each
 * registered with `tf.serialization.registerClass` when this module loads: `import 'supcon'`
 * (which loads it) before `tf.loadLayersModel` lets stock TensorFlow.js read an exported ViT.
 * Each layer's `call` is the same function the encoder's forward uses (models/transformer_ops.ts),
 * so the two compute the same.
 *
 * Layer map: patch embedding → Conv2D (kernel = stride = p, 'valid', with bias) + Reshape [N, D];
 * class token and position embeddings → SupconTokens; LayerNorm → SupconLayerNorm; attention →
 * SupconSelfAttention; MLP → Dense + SupconGelu + Dense; residuals → Add; pooling → Reshape +
 * Cropping2D + Flatten (cls) or GlobalAveragePooling1D (mean).
 *
 * Example (browser): `import 'supcon'; const m = await tf.loadLayersModel('/encoder/model.json');`
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { VitSpec } from '../models/spec.js';
import {
  type GeluApproximation,
  gelu,
  LAYER_NORM_EPSILON,
  layerNorm,
  multiHeadSelfAttention,
} from '../models/transformer_ops.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Kwargs = Record<string, unknown>;

const one = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0]! : inputs);
const lastDim = (shape: tfl.Shape | tfl.Shape[]): number => {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as tfl.Shape;
  return s[s.length - 1]!;
};

/** LayerNorm over the last axis with γ and β (transformer_ops.ts's `layerNorm`). */
export class SupconLayerNorm extends tfl.layers.Layer {
  static readonly className = 'SupconLayerNorm';
  readonly epsilon: number;
  private gamma?: tfl.LayerVariable;
  private beta?: tfl.LayerVariable;
  constructor(args: LayerArgs & { epsilon?: number }) {
    super(args);
    this.epsilon = args.epsilon ?? LAYER_NORM_EPSILON;
  }
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const d = lastDim(inputShape);
    this.gamma = this.addWeight('gamma', [d], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [d], 'float32', tfl.initializers.zeros());
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return layerNorm(one(inputs), this.gamma!.read(), this.beta!.read(), this.epsilon); // [B, T, D]
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

/** GELU, exact or the tanh approximation (transformer_ops.ts's `gelu`). */
export class SupconGelu extends tfl.layers.Layer {
  static readonly className = 'SupconGelu';
  readonly approximate: GeluApproximation;
  constructor(args: LayerArgs & { approximate?: GeluApproximation }) {
    super(args);
    this.approximate = args.approximate ?? 'none';
  }
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return gelu(one(inputs), this.approximate); // [B, T, rD]
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), approximate: this.approximate };
  }
}

/** Patch tokens [B, N, D] → (class token prepended) + position embeddings, [B, T, D]. */
export class SupconTokens extends tfl.layers.Layer {
  static readonly className = 'SupconTokens';
  readonly classToken: boolean;
  private cls?: tfl.LayerVariable;
  private pos?: tfl.LayerVariable;
  constructor(args: LayerArgs & { classToken: boolean }) {
    super(args);
    this.classToken = args.classToken;
  }
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const s = inputShape as tfl.Shape;
    const [n, d] = [s[1]!, s[2]!];
    if (this.classToken) this.cls = this.addWeight('cls_token', [d], 'float32', tfl.initializers.zeros());
    this.pos = this.addWeight(
      'pos_embed',
      [n + (this.classToken ? 1 : 0), d],
      'float32',
      tfl.initializers.zeros(),
    );
    this.built = true;
  }
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = inputShape as tfl.Shape;
    return [s[0]!, s[1]! + (this.classToken ? 1 : 0), s[2]!];
  }
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      let x = one(inputs) as tf.Tensor3D; // [B, N, D]
      const [b, , d] = x.shape;
      if (this.cls) {
        const cls = tf.broadcastTo(tf.reshape(this.cls.read(), [1, 1, d]), [b, 1, d]); // [B, 1, D]
        x = tf.concat([cls, x], 1) as tf.Tensor3D; // [B, N + 1, D]
      }
      return tf.add(x, this.pos!.read()); // [B, T, D]
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), classToken: this.classToken };
  }
}

/** Multi-head self-attention with its q/k/v and output projections (transformer_ops.ts). */
export class SupconSelfAttention extends tfl.layers.Layer {
  static readonly className = 'SupconSelfAttention';
  readonly heads: number;
  private w: tfl.LayerVariable[] = [];
  constructor(args: LayerArgs & { heads: number }) {
    super(args);
    this.heads = args.heads;
  }
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const d = lastDim(inputShape);
    const zeros = tfl.initializers.zeros();
    this.w = [
      this.addWeight('qkv/kernel', [d, 3 * d], 'float32', zeros),
      this.addWeight('qkv/bias', [3 * d], 'float32', zeros),
      this.addWeight('proj/kernel', [d, d], 'float32', zeros),
      this.addWeight('proj/bias', [d], 'float32', zeros),
    ];
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    const [qkvKernel, qkvBias, projKernel, projBias] = this.w.map((v) => v.read());
    const p = { qkvKernel: qkvKernel!, qkvBias: qkvBias!, projKernel: projKernel!, projBias: projBias! };
    return multiHeadSelfAttention(one(inputs) as tf.Tensor3D, p, this.heads); // [B, T, D]
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads };
  }
}

for (const layer of [SupconLayerNorm, SupconGelu, SupconTokens, SupconSelfAttention])
  tf.serialization.registerClass(layer);

/** Where the layers read the trained weights (layers.ts's Builder). */
export interface WeightSource {
  get(name: string): tf.Tensor;
}

const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) =>
  layer.apply(x) as tfl.SymbolicTensor;

/** Applies `layer` and loads `weights` into it. */
function withWeights(layer: tfl.layers.Layer, x: tfl.SymbolicTensor, weights: tf.Tensor[]) {
  const y = apply(layer, x);
  layer.setWeights(weights);
  return y;
}

/** The ViT encoder's layers on images [B, H, W, C] → features [B, D]; names as vit.ts's parameters. */
export function vitLayers(b: WeightSource, x: tfl.SymbolicTensor, spec: VitSpec): tfl.SymbolicTensor {
  const p = spec.patch;
  const w = (name: string) => b.get(name);
  const conv = tfl.layers.conv2d({
    filters: spec.dim,
    kernelSize: p,
    strides: p,
    padding: 'valid',
    name: 'patch_embed',
  });
  x = withWeights(conv, x, [w('patch_embed/kernel'), w('patch_embed/bias')]); // [B, H/p, W/p, D]
  const n = (x.shape[1] as number) * (x.shape[2] as number);
  x = apply(tfl.layers.reshape({ targetShape: [n, spec.dim], name: 'patch_tokens' }), x); // [B, N, D]
  const tokens = new SupconTokens({ classToken: spec.pool === 'cls', name: 'tokens' });
  const tokenWeights = spec.pool === 'cls' ? [w('cls_token'), w('pos_embed')] : [w('pos_embed')];
  x = withWeights(tokens, x, tokenWeights); // [B, T, D]
  const norm = (h: tfl.SymbolicTensor, prefix: string) =>
    withWeights(new SupconLayerNorm({ name: prefix.replaceAll('/', '.') }), h, [
      w(`${prefix}/gamma`),
      w(`${prefix}/beta`),
    ]); // [B, T, D]
  const dense = (h: tfl.SymbolicTensor, prefix: string) => {
    const kernel = w(`${prefix}/kernel`); // [in, out]
    const layer = tfl.layers.dense({ units: kernel.shape[1]!, name: prefix.replaceAll('/', '.') });
    return withWeights(layer, h, [kernel, w(`${prefix}/bias`)]); // [B, T, out]
  };
  for (let i = 0; i < spec.depth; i++) {
    const name = `block${i}`;
    const attention = new SupconSelfAttention({ heads: spec.heads, name: `${name}.attn` });
    const attended = withWeights(
      attention,
      norm(x, `${name}/ln1`),
      ['qkv/kernel', 'qkv/bias', 'proj/kernel', 'proj/bias'].map((k) => w(`${name}/attn/${k}`)),
    ); // [B, T, D]
    x = apply(tfl.layers.add({ name: `${name}.add1` }), [x, attended]); // [B, T, D]
    let h = dense(norm(x, `${name}/ln2`), `${name}/mlp/fc1`); // [B, T, rD]
    h = apply(new SupconGelu({ approximate: spec.gelu, name: `${name}.gelu` }), h); // [B, T, rD]
    x = apply(tfl.layers.add({ name: `${name}.add2` }), [x, dense(h, `${name}/mlp/fc2`)]); // [B, T, D]
  }
  x = norm(x, 'norm'); // [B, T, D]
  if (spec.pool === 'mean') return apply(tfl.layers.globalAveragePooling1d({ name: 'pool' }), x); // [B, D]
  const t = x.shape[1] as number;
  // The class token's row: tfjs-layers has no Cropping1D, so crop the tokens as a [T, D, 1] image.
  const grid = apply(tfl.layers.reshape({ targetShape: [t, spec.dim, 1], name: 'pool.grid' }), x); // [B, T, D, 1]
  const cropping: [[number, number], [number, number]] = [
    [0, t - 1],
    [0, 0],
  ];
  const first = apply(tfl.layers.cropping2D({ cropping, name: 'pool.cls' }), grid); // [B, 1, D, 1]
  return apply(tfl.layers.flatten({ name: 'pool' }), first); // [B, D]
}
