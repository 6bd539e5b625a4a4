/**
 * Training data for the browser tab: the first N training images of a dataset known to
 * `@supcon/node` (read from the local disk, never downloaded here), as raw bytes the page turns into
 * a `TrainSet` without decoding: N·H·W·C uint8 pixels (NHWC) followed by N uint8 labels.
 * Only dataset names are accepted, never paths, so a request cannot read other files.
 */
import type { DatasetMeta } from '../web/api.js';
import { NotFoundError } from './runs.js';

export const SERVED_DATASETS = ['fashion-mnist', 'mnist', 'cifar10'] as const;
export const MAX_SERVED_IMAGES = 10_000;

export type { DatasetMeta } from '../web/api.js';

interface Loaded {
  meta: DatasetMeta;
  images: Uint8Array;
  labels: Int32Array;
}

const cache = new Map<string, Promise<Loaded>>();

async function load(name: string): Promise<Loaded> {
  const { loadDataset } = await import('@supcon/node');
  const ds = await loadDataset(name);
  const t = ds.train;
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
    },
    images: t.images,
    labels: t.labels,
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

/** The first `count` training images and labels of `name` (see the module doc for the layout). */
export async function datasetSlice(name: string, count: number): Promise<Buffer> {
  const { meta, images, labels } = await get(name);
  if (!Number.isInteger(count) || count < 1 || count > Math.min(MAX_SERVED_IMAGES, meta.trainCount))
    throw new NotFoundError(
      `Invalid value for \`count\`. Expected an integer from 1 to ${Math.min(MAX_SERVED_IMAGES, meta.trainCount)}. Received: ${count}.`,
      400,
    );
  const size = meta.height * meta.width * meta.channels;
  const out = Buffer.alloc(count * size + count);
  out.set(images.subarray(0, count * size), 0);
  for (let i = 0; i < count; i++) out[count * size + i] = labels[i]!;
  return out;
}
