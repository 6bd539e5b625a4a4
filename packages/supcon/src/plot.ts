/**
 * What the two chart makers share: the report's (`@supcon/node`, SVG strings rasterised by sharp)
 * and the dashboard page's (`@supcon/dashboard`'s web code, SVG elements in the DOM). Both draw with
 * one categorical palette, one colour per method, and legends that flow in rows above the plot area
 * (where they cannot hide a curve).
 *
 * Why here: both packages depend on `supcon`, and the page's bundle may include only code without
 * Node or TensorFlow.js. This module imports nothing (no TensorFlow.js, no `node:` module, no DOM)
 * and is reached as `supcon/plot`, not through the package's main entry, so bundling it for the
 * dashboard page adds these lines and nothing of the library.
 */

/** Tableau-10: the usual categorical palette (class colours, run colours). */
export const PALETTE: readonly string[] = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

/** One colour per training method, the same in the dashboard and the report. */
export const METHOD_COLORS: Readonly<Record<string, string>> = {
  supcon: '#d62728',
  simclr: '#1f77b4',
  ce: '#2ca02c',
};

/**
 * Where legend entries of the given widths go: left to right in rows starting at `left`, `gap`
 * between entries, a new row when the next entry would pass `right` (an entry wider than a whole
 * row still gets one of its own). Widths come from the caller's estimate of its text, so this needs
 * no DOM.
 *
 * @example legendFlow([50, 50, 50], 0, 120, 10); // [{ x: 0, row: 0 }, { x: 60, row: 0 }, { x: 0, row: 1 }]
 */
export function legendFlow(
  widths: readonly number[],
  left: number,
  right: number,
  gap = 0,
): { x: number; row: number }[] {
  let x = left;
  let row = 0;
  return widths.map((w) => {
    if (x > left && x + w > right) {
      x = left;
      row++;
    }
    const at = { x, row };
    x += w + gap;
    return at;
  });
}

/** The five numbers a box plot draws: whiskers at the extremes, the box from q1 to q3, the median. */
export interface BoxStats {
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
}

/**
 * The `p`-quantile (0 ≤ p ≤ 1) of ascending `sorted` values, interpolated linearly between the two
 * nearest ranks (numpy's default, R's type 7; the median of an even count is the mean of the middle
 * two). NaN when empty.
 *
 * @example quantile([1, 2, 3, 4], 0.25); // 1.75
 */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = p * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (at - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * The box of `values`: quartiles by `quantile`, whiskers at the minimum and maximum (no points set
 * apart as outliers: the charts that draw a box draw every point over it as well).
 *
 * @example boxStats([4, 1, 3, 2]); // { min: 1, q1: 1.75, median: 2.5, q3: 3.25, max: 4 }
 */
export function boxStats(values: readonly number[]): BoxStats {
  const s = [...values].sort((a, b) => a - b);
  return {
    min: s[0] ?? Number.NaN,
    q1: quantile(s, 0.25),
    median: quantile(s, 0.5),
    q3: quantile(s, 0.75),
    max: s.at(-1) ?? Number.NaN,
  };
}
