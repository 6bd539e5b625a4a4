/**
 * The dashboard server (node:http, no framework): three pages, their bundled scripts, a read-only
 * JSON API over the run folders under one root, and the shipped pretrained encoders.
 *
 *   GET /                         the dashboard page          GET /train  training in the browser tab
 *   GET /search                   nearest test images of a dropped image, a pretrained encoder in the tab
 *   GET /assets/{dashboard,train,search}.js
 *   GET /models/index.json, /models/NAME/{card.json,model.json,weights.bin}   @supcon/pretrained's files
 *   GET /api/runs                 one row per run folder      GET /api/sweeps  every sweep.json
 *   GET /api/run?id=ID            config, summary, robustness of one run
 *   GET /api/metrics?id=ID        its metrics.jsonl records and the byte length read
 *   GET /api/events?id=ID&offset=B   Server-Sent Events: records appended after byte B
 *   GET /api/datasets/NAME        shape and classes;  GET /api/datasets/NAME/train.bin?count=N  pixels + labels
 *   GET /api/datasets/NAME/test.bin?count=N   the same from the test split (the /search gallery)
 *   POST /api/client-report       only when `onClientReport` is given (tests collect the pages' results)
 *
 * Every request must name this server in its `Host` header (`localhost`, the address it listens on,
 * or a name in `allowedHosts`; see hosts.ts): anything else is answered 403, against DNS rebinding.
 *
 * @example
 *   const d = await startDashboard({ runs: 'runs', port: 8080 });
 *   console.log(d.url); // http://127.0.0.1:8080/
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runFiles } from '@supcon/node';
import { bundle, ENTRIES, type Entry } from './bundle.js';
import { datasetMeta, datasetSlice } from './data.js';
import { acceptedHosts, hostCheck } from './hosts.js';
import { isModelsPath, modelFile } from './models.js';
import { page } from './pages.js';
import { listRuns, listSweeps, NotFoundError, runDetail, runDir, runMetrics } from './runs.js';
import { tailAsEvents } from './tail.js';

export interface DashboardOptions {
  /** The folder holding run folders (searched three levels deep). */
  runs: string;
  /** Default 127.0.0.1: the dashboard has no authentication, keep it local unless you mean it. */
  host?: string;
  /**
   * Further names accepted in the `Host` header besides `localhost` and the listening address (e.g.
   * the machine's name on the LAN when listening on 0.0.0.0). Default none.
   */
  allowedHosts?: string[];
  /**
   * Screenshot mode: the pages open no live stream and never refresh, and `/api/events` answers 204
   * (which tells an EventSource not to reconnect), so the page's network goes idle and headless
   * browsers' `--virtual-time-budget` and `--dump-dom` can finish. Default false.
   */
  static?: boolean;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Enables POST /api/client-report; called with each parsed JSON body. */
  onClientReport?: (report: unknown) => void;
  /** Poll interval of the live metrics tail (ms, default 250). */
  pollMs?: number;
}

export interface Dashboard {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const MAX_REPORT_BYTES = 1 << 20;

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function requireId(url: URL): string {
  const id = url.searchParams.get('id');
  if (id === null || id === '')
    throw new NotFoundError('Missing query parameter `id`: expected a run id from /api/runs.', 400);
  return id;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (c: Buffer) => {
      total += c.length;
      if (total > MAX_REPORT_BYTES) {
        reject(new NotFoundError(`Report too large: expected at most ${MAX_REPORT_BYTES} bytes.`, 400));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The request handler, exported for embedding the dashboard in another server. `bound`: the addresses
 * the server listens on, accepted in the `Host` header (default `options.host`, else 127.0.0.1).
 */
export function dashboardHandler(options: DashboardOptions, bound = [options.host ?? '127.0.0.1']) {
  const root = options.runs;
  const hostAllowed = hostCheck(bound, options.allowedHosts);
  const pageOptions = { static: options.static === true };
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (!hostAllowed(req.headers.host))
      return send(
        res,
        403,
        'text/plain; charset=utf-8',
        `Refused a request for host ${JSON.stringify(req.headers.host)}: this dashboard answers only ${acceptedHosts(bound)} and the names given to --allow-host (a guard against DNS rebinding).\n`,
      );
    try {
      if (req.method === 'POST' && path === '/api/client-report' && options.onClientReport) {
        options.onClientReport(JSON.parse(await readBody(req)));
        return sendJson(res, 200, { ok: true });
      }
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return sendJson(res, 405, { error: `Method ${req.method} is not allowed here.` });
      if (path === '/' || path === '/index.html')
        return send(res, 200, 'text/html; charset=utf-8', page('dashboard', pageOptions));
      if (path === '/train') return send(res, 200, 'text/html; charset=utf-8', page('train', pageOptions));
      if (path === '/search') return send(res, 200, 'text/html; charset=utf-8', page('search', pageOptions));
      if (isModelsPath(path)) {
        const file = modelFile(path);
        return send(res, 200, file.type, file.body);
      }
      const asset = /^\/assets\/([a-z]+)\.js$/.exec(path)?.[1];
      if (asset !== undefined && (ENTRIES as readonly string[]).includes(asset))
        return send(res, 200, 'text/javascript; charset=utf-8', await bundle(asset as Entry));
      if (path === '/api/runs') return sendJson(res, 200, { root, runs: listRuns(root) });
      if (path === '/api/sweeps') return sendJson(res, 200, { sweeps: listSweeps(root) });
      if (path === '/api/run') return sendJson(res, 200, runDetail(root, requireId(url)));
      if (path === '/api/metrics') return sendJson(res, 200, runMetrics(root, requireId(url)));
      if (path === '/api/events') {
        const dir = runDir(root, requireId(url));
        // 204: an EventSource given it stops instead of reconnecting every few seconds.
        if (options.static) return send(res, 204, 'text/plain; charset=utf-8', '');
        const raw = url.searchParams.get('offset');
        const offset = raw === null ? undefined : Number(raw);
        if (offset !== undefined && !(Number.isInteger(offset) && offset >= 0))
          throw new NotFoundError(
            `Invalid value for \`offset\`. Expected a byte offset >= 0. Received: ${raw}.`,
            400,
          );
        return tailAsEvents(runFiles(dir).metrics, req, res, {
          ...(offset !== undefined ? { offset } : {}),
          ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
        });
      }
      const ds = /^\/api\/datasets\/([a-z0-9-]+)(?:\/(train|test)\.bin)?$/.exec(path);
      if (ds) {
        const name = ds[1]!;
        const split = ds[2] as 'train' | 'test' | undefined;
        if (!split) return sendJson(res, 200, await datasetMeta(name));
        const count = Number(url.searchParams.get('count') ?? '2048');
        return send(res, 200, 'application/octet-stream', await datasetSlice(name, count, split));
      }
      sendJson(res, 404, { error: `Nothing at ${path}.` });
    } catch (error) {
      if (res.headersSent) return void res.end();
      if (error instanceof NotFoundError) return sendJson(res, error.status, { error: error.message });
      if (error instanceof SyntaxError)
        return sendJson(res, 400, { error: `Invalid JSON: ${error.message}` });
      sendJson(res, 500, { error: (error as Error).message });
    }
  };
}

/** Starts the dashboard server; resolves once it listens. */
export function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  // The name given and the address it resolved to (`localhost` may listen on ::1) are both this server.
  const bound = [host];
  const handler = dashboardHandler(options, bound);
  const server = createServer((req, res) => void handler(req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', reject);
      const { port, address } = server.address() as AddressInfo;
      if (!bound.includes(address)) bound.push(address);
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shown}:${port}/`,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
