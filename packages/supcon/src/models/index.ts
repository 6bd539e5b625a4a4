export {
  type BatchNormOptions,
  type BatchNormParams,
  batchNorm,
  createBatchNorm,
} from './batch_norm.js';
export { type Network, uniqueScope } from './network.js';
export { L2_NORMALIZE_EPSILON, l2NormalizeRows } from './normalize.js';
export { globalAvgPool } from './pool.js';
export {
  type BasicBlock,
  type ConvBn,
  checkWidthMultiplier,
  createProjectionHead,
  createResNet,
  createResNet18,
  type ProjectionHead,
  projectionHeadForward,
  RESNET_DEPTHS,
  RESNET_STEMS,
  type ResNet,
  type ResNetDepth,
  type ResNetOptions,
  type ResNetStem,
  resNetConvs,
  resNetEncoder,
  resNetForward,
  resolveResNetOptions,
  trainableVariables,
} from './resnet.js';
export * from './small.js';
export * from './spec.js';
export * from './transformer_ops.js';
export * from './vit.js';
