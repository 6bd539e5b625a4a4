export {
  type EncoderArchitecture,
  type ExportMetadata,
  type HeadArchitecture,
  type LayersExportOptions,
  l2Normalize,
  layersModelFiles,
  toLayersModel,
} from './layers.js';
