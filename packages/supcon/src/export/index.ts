export {
  type EncoderArchitecture,
  type HeadArchitecture,
  type LayersExportOptions,
  l2Normalize,
  layersModelFiles,
  layersModelFromFiles,
  toLayersModel,
} from './layers.js';
