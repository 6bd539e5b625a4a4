export {
  type LayersExportOptions,
  l2Normalize,
  layersModelFiles,
  layersModelFromFiles,
  toLayersModel,
} from './layers.js';
export {
  SupconGelu,
  SupconLayerNorm,
  SupconSelfAttention,
  SupconTokens,
  vitLayers,
  type WeightSource,
} from './vit_layers.js';
