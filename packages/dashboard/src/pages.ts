/** The HTML shells of the three pages; everything else is drawn by the bundled scripts (plain DOM + SVG/canvas). */
const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { background: #1f3b57; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
  header a { color: #cde; } header h1 { font-size: 18px; margin: 0; }
  main { padding: 12px 20px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); }
  section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; overflow-x: auto; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 15px; margin: 4px 0 8px; }
  table { border-collapse: collapse; font-size: 13px; }
  th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
  th:first-child, td:first-child { text-align: left; }
  table.runs th:nth-child(2), table.runs td:nth-child(2) { text-align: left; }
  tr.selected { background: #e8f0fb; } tbody tr { cursor: pointer; }
  .muted { color: #888; } .status-training { color: #d62728; font-weight: 600; }
  svg text { font: 11px system-ui, sans-serif; fill: #333; }
  label { margin-right: 12px; } button { font-size: 14px; padding: 4px 14px; }
  .swatch { display: inline-block; width: 10px; height: 10px; margin-left: 4px; border-radius: 2px; }
  .gallery canvas, .results canvas, #query canvas { width: 56px; height: 56px; image-rendering: pixelated; margin: 2px; cursor: pointer; }
  .results figure { display: inline-block; margin: 4px; text-align: center; font-size: 12px; }
  #drop { border: 2px dashed #aaa; padding: 16px; text-align: center; margin: 8px 0; }
  .note { background: #fff4d6; border-left: 3px solid #e6a700; padding: 4px 8px; margin: 4px 0 8px; }
`;

const TITLES = {
  dashboard: 'supcon dashboard',
  train: 'supcon: training in the browser',
  search: 'supcon: image search in the browser',
} as const;

/**
 * The page shell of `entry`. `static`: the server runs in screenshot mode, and `data-static` on the
 * body tells the page to open no live stream (as `?static=1` does for one page).
 */
export function page(entry: keyof typeof TITLES, options: { static?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${TITLES[entry]}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body${options.static ? ' data-static="true"' : ''}><header><h1>${TITLES[entry]}</h1><a href="/">runs</a><a href="/train">train in this tab</a><a href="/search">search</a></header>
<main id="app"><section class="wide muted">Loading…</section></main>
<script type="module" src="/assets/${entry}.js"></script></body></html>
`;
}
