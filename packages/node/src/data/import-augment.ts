/**
 * Loads the core's augmentation and sampler modules without the rest of the core: `supcon`'s
 * entry point pulls in all of TensorFlow.js (hundreds of milliseconds and tens of MB per worker
 * thread), while these are plain TypeScript on typed arrays. Falls back to the full entry point.
 */
type AugmentModule = Pick<typeof import('supcon'), 'Augmenter'>;
type SamplerModule = Pick<typeof import('supcon'), 'samplerOrder' | 'batchesPerEpoch' | 'batchIndices'>;

async function importPart<T>(path: string): Promise<T> {
  try {
    const url = new URL(path, import.meta.resolve('supcon'));
    return (await import(url.href)) as T;
  } catch {
    return (await import('supcon')) as T;
  }
}

export const importAugment = () => importPart<AugmentModule>('./augment/index.js');
export const importSampler = () => importPart<SamplerModule>('./train/sampler.js');
