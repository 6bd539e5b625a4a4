/** The explicit list of native kernels registered for the `native` backend. */
import {
  batchNormGradKernel,
  batchNormTrainKernel,
  fusedBatchNormKernel,
  runningStatsKernel,
} from './batch_norm.js';
import {
  conv2dBackpropFilterKernel,
  conv2dBackpropInputKernel,
  conv2dKernel,
  fusedConv2dKernel,
} from './conv.js';
import { concatKernel, padV2Kernel, sliceKernel } from './copy.js';
import { binaryKernels, unaryKernels } from './elementwise.js';
import { gatherKernel } from './gather.js';
import { autocastMatMulKernel, batchMatMulKernel, fusedMatMulKernel, linearGradKernel } from './matmul.js';
import { optimizerKernels } from './optim.js';
import { poolKernels } from './pool.js';
import { reduceKernels, softmaxKernel } from './reduce.js';
import { splitVKernel } from './split.js';
import { topKKernel } from './topk.js';
import {
  attentionGradKernel,
  attentionKernel,
  geluGradKernel,
  geluKernel,
  layerNormGradKernel,
  layerNormKernel,
  scaledSoftmaxGradKernel,
  scaledSoftmaxKernel,
} from './transformer.js';
import { transposeKernel } from './transpose.js';
import type { NativeKernel } from './util.js';

export { batchNormGradConfig } from './batch_norm.js';
export { autocastMatMulGradConfig } from './matmul.js';
export {
  attentionGradConfig,
  geluGradConfig,
  layerNormGradConfig,
  scaledSoftmaxGradConfig,
} from './transformer.js';

export const nativeKernels: NativeKernel[] = [
  conv2dKernel,
  fusedConv2dKernel,
  conv2dBackpropInputKernel,
  conv2dBackpropFilterKernel,
  batchMatMulKernel,
  fusedMatMulKernel,
  autocastMatMulKernel,
  linearGradKernel,
  batchNormTrainKernel,
  batchNormGradKernel,
  runningStatsKernel,
  fusedBatchNormKernel,
  ...binaryKernels,
  ...unaryKernels,
  ...reduceKernels,
  softmaxKernel,
  ...poolKernels,
  transposeKernel,
  gatherKernel,
  splitVKernel,
  sliceKernel,
  padV2Kernel,
  concatKernel,
  layerNormKernel,
  layerNormGradKernel,
  geluKernel,
  geluGradKernel,
  scaledSoftmaxKernel,
  scaledSoftmaxGradKernel,
  attentionKernel,
  attentionGradKernel,
  topKKernel,
  ...optimizerKernels,
];
