/**
 * Loads the core's augmentation module without the rest of the core: `supcon`'s entry point pulls
 * in all of TensorFlow.js (hundreds of milliseconds and tens of MB per worker thread), and the
 * augmentations are plain TypeScript on typed arrays. Falls back to the full entry point.
 */
type AugmentModule = Pick<typeof import('supcon'), 'Augmenter'>;

export async function importAugment(): Promise<AugmentModule> {
  try {
    const url = new URL('./augment/index.js', import.meta.resolve('supcon'));
    return (await import(url.href)) as AugmentModule;
  } catch {
    return await import('supcon');
  }
}
