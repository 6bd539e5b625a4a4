/** The dashboard page's small DOM helpers and the run row it reads from `/api/runs`. */
import { datasetNote } from './compare.js';

export interface RunRow {
  id: string;
  method?: string;
  dataset?: string;
  encoder?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  temperature?: number;
  precision?: string;
  status: string;
  epochsDone: number;
  iterations: number;
  latestLoss?: number;
  knnAccuracy?: number;
  validationAccuracy?: number;
  testAccuracy?: number;
  knnTestAccuracy?: number;
  knnTestK?: number;
  knnTestBank?: number;
  meanCorruptionError?: number;
  mCE?: number;
  mCEBaseline?: string;
  hasRobustness: boolean;
  updated: string;
}

export async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${((await r.json()) as { error?: string }).error ?? ''}`);
  return (await r.json()) as T;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

export const pct = (x: number | undefined) => (x === undefined ? '' : `${(100 * x).toFixed(2)}`);
export const num = (x: number | undefined, digits = 4) => (x === undefined ? '' : x.toFixed(digits));

export function section(id: string, title: string, wide = false): HTMLElement {
  let s = document.getElementById(id);
  if (!s) {
    s = h('section', { id, ...(wide ? { class: 'wide' } : {}) });
    document.getElementById('app')!.append(s);
  }
  s.replaceChildren(h('h2', {}, title));
  return s;
}

/** A visible note above a chart whose runs come from different datasets (nothing when they agree). */
export function appendDatasetNote(s: HTMLElement, runs: { id: string; dataset?: string }[]): void {
  const note = datasetNote(runs);
  if (note) s.append(h('p', { class: 'note', 'data-note': 'datasets' }, note));
}
