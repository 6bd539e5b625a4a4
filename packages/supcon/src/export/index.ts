export {
  type LayersExportOptions,
  l2Normalize,
  layersModelFiles,
  layersModelFromFiles,
  toLayersModel,
} from './layers.js';
