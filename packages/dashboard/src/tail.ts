/**
 * Live metrics: a Server-Sent Events stream of the lines appended to a run's metrics.jsonl.
 * The file is polled (fs.watch misses writes on some file systems and fires twice on others); only
 * complete lines are sent, so a record being written is sent once it ends. If the file shrinks (a
 * resumed run drops the records logged after its last checkpoint) a `reset` event tells the page to
 * reload the metrics.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface TailOptions {
  /** Byte offset to continue from (what `/api/metrics` returned as `bytes`); default: the end. */
  offset?: number;
  pollMs?: number;
  heartbeatMs?: number;
}

function readRange(file: string, start: number, end: number): Buffer {
  const buf = Buffer.alloc(end - start);
  const fd = openSync(file, 'r');
  try {
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, start + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);

/** Streams `file`'s new complete lines to `res` as SSE `data:` events until the client goes. */
export function tailAsEvents(
  file: string,
  req: IncomingMessage,
  res: ServerResponse,
  options: TailOptions = {},
): void {
  const { pollMs = 250, heartbeatMs = 15_000 } = options;
  let offset = Math.min(options.offset ?? size(file), size(file));
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  res.write(`: tailing from byte ${offset}\n\n`);
  const poll = () => {
    const now = size(file);
    if (now < offset) {
      offset = 0;
      res.write('event: reset\ndata: {}\n\n');
      return;
    }
    if (now === offset) return;
    const chunk = readRange(file, offset, now);
    const end = chunk.lastIndexOf(10) + 1;
    if (end === 0) return;
    offset += end;
    for (const line of chunk.subarray(0, end).toString('utf8').split('\n'))
      if (line.trim() !== '') res.write(`data: ${line}\n\n`);
  };
  const timer = setInterval(() => {
    try {
      poll();
    } catch {
      // the file may be mid-rename; try again next tick
    }
  }, pollMs);
  const heartbeat = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
  const stop = () => {
    clearInterval(timer);
    clearInterval(heartbeat);
  };
  req.on('close', stop);
  res.on('close', stop);
}
