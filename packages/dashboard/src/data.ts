/**
 * Data for the browser tab: the first N training (the /train page) or test images (the /search
 * page's gallery) of a dataset known to `@supcon/node` (read from the local disk, never downloaded
 * here), as raw bytes the page uses without decoding: N·H·W·C uint8 pixels (NHWC) followed by N
 * uint8 labels.
 * Only dataset names are accepted, never paths, so a request cannot read other files.
 */
import type { DatasetMeta } from '../web/api.js';
import { NotFoundError } from './runs.js';

export const SERVED_DATASETS = ['fashion-mnist', 'mnist', 'cifar10'] as const;
export const MAX_SERVED_IMAGES = 10_000;

export type { DatasetMeta } from '../web/api.js';

export type Split = 'train' | 'test';

interface Loaded {
  meta: DatasetMeta;
  splits: Record<Split, { images: Uint8Array; labels: Int32Array; count: number }>;
}

const cache = new Map<string, Promise<Loaded>>();

async function load(name: string): Promise<Loaded> {
  const { loadDataset } = await import('@supcon/node');
  const ds = await loadDataset(name);
  const t = ds.train;
  // A dataset without a test split (a `folder:` one) serves none: test.bin then answers 400.
  const test = ds.test ?? { images: new Uint8Array(0), labels: new Int32Array(0), count: 0 };
  return {
    meta: {
      name,
      classes: ds.classes,
      height: t.height,
      width: t.width,
      channels: t.channels,
      mean: ds.mean,
      std: ds.std,
      trainCount: t.count,
      testCount: test.count,
    },
    splits: {
      train: { images: t.images, labels: t.labels, count: t.count },
      test: { images: test.images, labels: test.labels, count: test.count },
    },
  };
}

function get(name: string): Promise<Loaded> {
  if (!(SERVED_DATASETS as readonly string[]).includes(name))
    return Promise.reject(
      new NotFoundError(
        `Unknown dataset ${JSON.stringify(name)}: expected one of ${SERVED_DATASETS.join(', ')}.`,
      ),
    );
  let p = cache.get(name);
  if (!p) {
    p = load(name).catch((error: unknown) => {
      cache.delete(name);
      throw new NotFoundError(`Dataset ${name} is not available here: ${(error as Error).message}`);
    });
    cache.set(name, p);
  }
  return p;
}

export async function datasetMeta(name: string): Promise<DatasetMeta> {
  return (await get(name)).meta;
}

/** The first `count` images and labels of `name`'s `split` (see the module doc for the layout). */
export async function datasetSlice(name: string, count: number, split: Split = 'train'): Promise<Buffer> {
  const { meta, splits } = await get(name);
  const { images, labels, count: available } = splits[split];
  const most = Math.min(MAX_SERVED_IMAGES, available);
  if (!Number.isInteger(count) || count < 1 || count > most)
    throw new NotFoundError(
      `Invalid value for \`count\`. Expected an integer from 1 to ${most}. Received: ${count}.`,
      400,
    );
  const size = meta.height * meta.width * meta.channels;
  const out = Buffer.alloc(count * size + count);
  out.set(images.subarray(0, count * size), 0);
  for (let i = 0; i < count; i++) out[count * size + i] = labels[i]!;
  return out;
}
