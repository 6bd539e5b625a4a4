export {
  BATCH_NORM_KERNEL,
  type BatchNormOptions,
  type BatchNormParams,
  batchNorm,
  createBatchNorm,
} from './batch_norm.js';
export {
  type BasicBlock,
  type ConvBn,
  createProjectionHead,
  createResNet18,
  type ProjectionHead,
  projectionHeadForward,
  type ResNet,
  resNetForward,
  trainableVariables,
} from './resnet.js';
export * from './small.js';
