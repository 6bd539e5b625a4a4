/** The dashboard pages' small DOM helpers (the JSON they read is typed in `api.ts`). */
import { datasetNote } from './compare.js';

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
