/**
 * Export to the TensorFlow.js layers format: rebuilds a trained encoder (and optionally its head)
 * as a functional `tf.LayersModel` made of stock layers only, so `tf.loadLayersModel` loads it in
 * any browser without custom code, and copies the trained weights and BatchNorm running statistics
 * into it. The exported model is the inference-mode (`training = false`) forward of our models.
 *
 * Layer map: conv → Conv2D (useBias false, 'same' or 'valid' exactly as our forward), BatchNorm →
 * BatchNormalization (our epsilon 1e-5, running statistics as moving mean/variance), fused
 * add + ReLU → Add + Activation('relu'), global average pooling → GlobalAveragePooling2D, linear
 * layers → Dense. L2 normalisation has no stock layer in tfjs-layers; `l2Normalize` builds it from
 * LayerNormalization (see there). The ViT needs custom layers (vit_layers.ts), registered when the
 * `supcon` package loads: a ViT export loads after `import 'supcon'`, the other encoders without it.
 *
 * The model is described by the same `EncoderSpec` / `HeadSpec` that built it (models/spec.ts), with
 * one layers builder per kind in the tables below; channel counts and sizes are read from the weights.
 *
 * Example:
 *   const spec = { kind: 'small-resnet', baseChannels: 16, blocksPerStage: 1, stemStride: 2 } as const;
 *   const encoder = createEncoder(spec, { inputShape: [28, 28, 1], seed: 0 });
 *   const model = toLayersModel({ inputShape: [28, 28, 1], encoder: spec, encoderWeights: encoder.variables() });
 *   model.predict(images); // [B, 64], equal to encoder.apply(images, false)
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { check } from '../errors.js';
import type {
  EncoderKind,
  EncoderSpec,
  HeadKind,
  HeadSpec,
  MlpSpec,
  ResNetSpec,
  SmallResNetSpec,
} from '../models/spec.js';
import type { Parameter } from '../optim/types.js';
import { vitLayers } from './vit_layers.js';

export interface LayersExportOptions {
  /** One image, [height, width, channels]; the model takes normalised images [B, H, W, C]. */
  inputShape: [number, number, number];
  /** The spec the encoder was built from. */
  encoder: EncoderSpec;
  /** The encoder's `variables()` (trainable ones and BatchNorm running statistics). */
  encoderWeights: Parameter[];
  /** The head's spec and `variables()`. */
  head?: { spec: HeadSpec; weights: Parameter[] };
  /** Model name. Default 'supcon_encoder'. */
  name?: string;
}

/** Epsilon of our BatchNorm (batch_norm.ts) and PyTorch's. */
const BN_EPSILON = 1e-5;

class Builder {
  private readonly weights = new Map<string, tf.Tensor>();
  private readonly used = new Set<string>();
  constructor(
    params: Parameter[],
    private readonly what: string,
  ) {
    for (const p of params) this.weights.set(p.name, p.variable);
  }

  get(name: string): tf.Tensor {
    const w = this.weights.get(name);
    check(w !== undefined, this.what, `a weight named \`${name}\``, [...this.weights.keys()].slice(0, 8));
    this.used.add(name);
    return w;
  }
  has(name: string): boolean {
    return this.weights.has(name);
  }
  /** Every weight must have found its layer, or the architecture does not match. */
  checkAllUsed(): void {
    const unused = [...this.weights.keys()].filter((n) => !this.used.has(n));
    check(unused.length === 0, this.what, 'weights that all belong to the described architecture', unused);
  }

  conv(x: tfl.SymbolicTensor, prefix: string, stride: number, layerName: string): tfl.SymbolicTensor {
    const kernel = this.get(`${prefix}/kernel`); // [k, k, cin, cout]
    const [k, , , cout] = kernel.shape as number[];
    const layer = tfl.layers.conv2d({
      filters: cout!,
      kernelSize: k!,
      strides: stride,
      padding: k === 1 ? 'valid' : 'same',
      useBias: false,
      name: layerName,
    });
    const y = layer.apply(x) as tfl.SymbolicTensor;
    layer.setWeights([kernel]);
    return y;
  }

  batchNorm(x: tfl.SymbolicTensor, prefix: string, layerName: string): tfl.SymbolicTensor {
    const layer = tfl.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name: layerName });
    const y = layer.apply(x) as tfl.SymbolicTensor;
    layer.setWeights(['gamma', 'beta', 'running_mean', 'running_var'].map((w) => this.get(`${prefix}/${w}`)));
    return y;
  }

  convBn(x: tfl.SymbolicTensor, prefix: string, stride: number, relu: boolean): tfl.SymbolicTensor {
    const name = prefix.replaceAll('/', '.');
    const y = this.batchNorm(this.conv(x, prefix, stride, `${name}.conv`), `${prefix}/bn`, `${name}.bn`);
    return relu ? relu_(y, `${name}.relu`) : y;
  }

  dense(
    x: tfl.SymbolicTensor,
    prefix: string,
    options: { bias: boolean; activation?: 'relu'; name: string },
  ): tfl.SymbolicTensor {
    const kernel = this.get(`${prefix}/kernel`); // [in, out]
    const layer = tfl.layers.dense({
      units: kernel.shape[1]!,
      useBias: options.bias,
      name: options.name,
      ...(options.activation ? { activation: options.activation } : {}),
    });
    const y = layer.apply(x) as tfl.SymbolicTensor;
    layer.setWeights(options.bias ? [kernel, this.get(`${prefix}/bias`)] : [kernel]);
    return y;
  }
}

function relu_(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  return tfl.layers.activation({ activation: 'relu', name }).apply(x) as tfl.SymbolicTensor;
}

/**
 * x / ‖x‖ per row from stock layers. LayerNormalization of the row [x, −x] sees mean 0 and
 * variance ‖x‖²/D (2D entries), so it returns [x, −x] / √(‖x‖²/D + ε); keeping the first half
 * (Reshape + Cropping2D) and scaling by 1/√D leaves x / √(‖x‖² + D·ε). With ε = 1e-12 this equals
 * our x / max(‖x‖, 1e-12) to float precision for every non-degenerate row.
 */
export function l2Normalize(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  const d = x.shape[x.shape.length - 1]!;
  const negated = tfl.layers.rescaling({ scale: -1, name: `${name}.negate` }).apply(x);
  const both = tfl.layers
    .concatenate({ axis: -1, name: `${name}.concat` })
    .apply([x, negated as tfl.SymbolicTensor]); // [B, 2D]
  const normed = tfl.layers
    .layerNormalization({ axis: -1, center: false, scale: false, epsilon: 1e-12, name: `${name}.layer_norm` })
    .apply(both); // [B, 2D], rows [x, −x]·√D/‖x‖
  const grid = tfl.layers.reshape({ targetShape: [2, d, 1], name: `${name}.split` }).apply(normed); // [B, 2, D, 1]
  const first = tfl.layers
    .cropping2D({
      cropping: [
        [0, 1],
        [0, 0],
      ],
      name: `${name}.first_half`,
    })
    .apply(grid); // [B, 1, D, 1]
  const flat = tfl.layers.reshape({ targetShape: [d], name: `${name}.flatten` }).apply(first); // [B, D]
  return tfl.layers
    .rescaling({ scale: 1 / Math.sqrt(d), name: `${name}.scale` })
    .apply(flat) as tfl.SymbolicTensor; // [B, D], unit rows
}

function resNetLayers(b: Builder, x: tfl.SymbolicTensor, arch: ResNetSpec) {
  const stemStride = arch.stem === 'imagenet' ? 2 : 1;
  x = b.convBn(x, 'stem', stemStride, true); // [B, H/s, W/s, 64w]
  if (arch.stem === 'imagenet')
    x = tfl.layers
      .maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'stem.pool' })
      .apply(x) as tfl.SymbolicTensor; // [B, H/4, W/4, 64w]
  const bottleneck = arch.depth === 50;
  for (let stage = 1; b.has(`layer${stage}.0/conv1/kernel`); stage++) {
    for (let i = 0; b.has(`layer${stage}.${i}/conv1/kernel`); i++) {
      const s = i === 0 && stage > 1 ? 2 : 1;
      const p = `layer${stage}.${i}`;
      let h = b.convBn(x, `${p}/conv1`, bottleneck ? 1 : s, true);
      if (bottleneck) h = b.convBn(h, `${p}/conv2`, s, true);
      const last = bottleneck ? `${p}/conv3` : `${p}/conv2`;
      x = residual(b, x, h, last, p, s);
    }
  }
  return tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tfl.SymbolicTensor; // [B, C]
}

/** relu(bn(conv(h)) + shortcut(x)), the tail of every residual block. */
function residual(
  b: Builder,
  x: tfl.SymbolicTensor,
  h: tfl.SymbolicTensor,
  last: string,
  p: string,
  s: number,
): tfl.SymbolicTensor {
  const y = b.convBn(h, last, 1, false);
  const shortcut = b.has(`${p}/shortcut/kernel`) ? b.convBn(x, `${p}/shortcut`, s, false) : x;
  const sum = tfl.layers.add({ name: `${p}.add` }).apply([y, shortcut]) as tfl.SymbolicTensor;
  return relu_(sum, `${p}.relu`);
}

function smallResNetLayers(b: Builder, x: tfl.SymbolicTensor, arch: SmallResNetSpec) {
  x = b.convBn(x, 'stem', arch.stemStride, true);
  for (let stage = 1; b.has(`stage${stage}.0/conv1/kernel`); stage++) {
    for (let i = 0; b.has(`stage${stage}.${i}/conv1/kernel`); i++) {
      const s = i === 0 && stage > 1 ? 2 : 1;
      const p = `stage${stage}.${i}`;
      const h = b.convBn(x, `${p}/conv1`, s, true);
      x = residual(b, x, h, `${p}/conv2`, p, s);
    }
  }
  return tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tfl.SymbolicTensor;
}

function mlpLayers(b: Builder, x: tfl.SymbolicTensor, arch: MlpSpec) {
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor; // [B, H·W·C]
  for (let i = 0; i < arch.hidden.length; i++) {
    x = b.dense(x, `dense${i}`, { bias: false, name: `dense${i}` });
    x = relu_(b.batchNorm(x, `bn${i}`, `bn${i}`), `relu${i}`); // [B, hidden[i]]
  }
  return x;
}

type Layers<S> = (b: Builder, x: tfl.SymbolicTensor, spec: S) => tfl.SymbolicTensor;

/** One layers builder per encoder kind, keyed like models/spec.ts's build table. */
const ENCODER_LAYERS: { [K in EncoderKind]: Layers<Extract<EncoderSpec, { kind: K }>> } = {
  resnet: resNetLayers,
  'small-resnet': smallResNetLayers,
  mlp: mlpLayers,
  vit: vitLayers,
};

/** One layers builder per head kind. */
const HEAD_LAYERS: { [K in HeadKind]: Layers<Extract<HeadSpec, { kind: K }>> } = {
  classifier: (b, x) => b.dense(x, 'fc', { bias: true, name: 'head.fc' }), // [B, classes]
  projection: (b, x, spec) => {
    if (spec.normalizeInput) x = l2Normalize(x, 'head.normalize_input');
    if (spec.projection === 'mlp')
      x = b.dense(x, 'dense0', { bias: true, activation: 'relu', name: 'head.dense0' }); // [B, D]
    x = b.dense(x, 'dense1', { bias: true, name: 'head.dense1' }); // [B, outputDim]
    return l2Normalize(x, 'head.normalize'); // [B, outputDim], unit rows
  },
};

/** Builds the layers model of an encoder (and head) and loads the given weights into it. */
export function toLayersModel(options: LayersExportOptions): tfl.LayersModel {
  const { inputShape, encoder, head } = options;
  check(
    inputShape.length === 3 && inputShape.every((d) => Number.isInteger(d) && d > 0),
    'inputShape',
    '[height, width, channels] of positive integers',
    inputShape,
  );
  const input = tfl.input({ shape: inputShape, name: 'images' });
  const enc = new Builder(options.encoderWeights, 'encoderWeights');
  const encoderLayers = ENCODER_LAYERS[encoder.kind] as Layers<EncoderSpec> | undefined;
  check(
    encoderLayers !== undefined,
    'encoder.kind',
    `one of ${Object.keys(ENCODER_LAYERS).join(', ')}`,
    encoder.kind,
  );
  let x = encoderLayers(enc, input, encoder);
  enc.checkAllUsed();
  if (head) {
    const headLayers = HEAD_LAYERS[head.spec.kind] as Layers<HeadSpec> | undefined;
    check(
      headLayers !== undefined,
      'head.spec.kind',
      `one of ${Object.keys(HEAD_LAYERS).join(', ')}`,
      head.spec.kind,
    );
    const hb = new Builder(head.weights, 'head.weights');
    x = headLayers(hb, x, head.spec);
    hb.checkAllUsed();
  }
  return tfl.model({ inputs: input, outputs: x, name: options.name ?? 'supcon_encoder' });
}

/**
 * Serialises a layers model (and `metadata`, read back with `model.getUserDefinedMetadata()`) to the two files of the standard format: `model.json` (topology,
 * weights manifest pointing at `weights.bin`, metadata) and the `weights.bin` bytes.
 */
export async function layersModelFiles(
  model: tfl.LayersModel,
  metadata: Record<string, unknown> = {},
): Promise<{ modelJson: Record<string, unknown>; weights: Uint8Array }> {
  model.setUserDefinedMetadata(metadata);
  let files: { modelJson: Record<string, unknown>; weights: Uint8Array } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData ?? new ArrayBuffer(0);
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
      const modelJson: Record<string, unknown> = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: artifacts.userDefinedMetadata,
      };
      files = { modelJson, weights };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  return files!;
}

/**
 * Loads a layers model from the two files `layersModelFiles` writes (parsed `model.json`, and the
 * bytes of every file its weights manifest names, concatenated in manifest order). The browser
 * does the same with `tf.loadLayersModel('/path/model.json')`.
 */
export function layersModelFromFiles(
  modelJson: Record<string, unknown>,
  weights: Uint8Array,
): Promise<tfl.LayersModel> {
  const manifest = modelJson['weightsManifest'] as tf.io.WeightsManifestConfig | undefined;
  check(Array.isArray(manifest), 'modelJson', 'a layers model.json with a weightsManifest', modelJson);
  const copy = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: modelJson['modelTopology'] as object,
    weightSpecs: manifest.flatMap((group) => group.weights),
    weightData: copy as ArrayBuffer,
  };
  const metadata = modelJson['userDefinedMetadata'];
  if (metadata !== undefined)
    artifacts.userDefinedMetadata = metadata as NonNullable<tf.io.ModelArtifacts['userDefinedMetadata']>;
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts));
}
