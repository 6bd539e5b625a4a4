/**
 * `supcon dashboard [--runs DIR] [--port P] [--host H]`: serves the dashboard over the run folders
 * under DIR (loss and accuracy curves, live while a run trains; test top-1 across runs; robustness
 * tables; sweeps) and the page that trains a SupCon encoder in the browser tab. Runs until Ctrl-C.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { startDashboard } from '@supcon/dashboard';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';

export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'Serve the dashboard (runs, curves, robustness, sweeps) and in-browser training',
  help: [
    'Usage: supcon dashboard [--runs DIR] [--port P] [--host H] [--json]',
    '',
    'Serves a local web page over the run folders under DIR (three levels deep): the runs table, loss',
    'and kNN curves (live while a run trains), test top-1 across runs, robustness tables and sweep plots;',
    'and /train, which trains a small SupCon encoder in the browser tab (WebGL, else cpu). Ctrl-C stops it.',
    '',
    '  --runs DIR   the folder holding run folders (default runs)',
    '  --port P     TCP port (default 8080; 0 picks a free one)',
    '  --host H     interface to listen on (default 127.0.0.1; the dashboard has no authentication)',
    '  --json       print {"url": ...} once listening',
    '',
    'Example:',
    '  npx supcon dashboard --runs runs --port 8080   # then open http://127.0.0.1:8080/',
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      runs: { kind: 'string', default: 'runs' },
      port: { kind: 'int', default: 8080, min: 0 },
      host: { kind: 'string', default: '127.0.0.1' },
    });
    const port = flags['port'] as number;
    if (port > 65535)
      throw new CliError(`Invalid value for \`--port\`. Expected a port from 0 to 65535. Received: ${port}.`);
    const runs = resolve(flags['runs'] as string);
    if (!existsSync(runs) || !statSync(runs).isDirectory())
      throw new CliError(
        `Invalid value for \`--runs\`. Expected a folder of run folders (as written by \`supcon train --out\`). Received: ${flags['runs']}.`,
      );
    let dashboard: Awaited<ReturnType<typeof startDashboard>>;
    try {
      dashboard = await startDashboard({ runs, port, host: flags['host'] as string });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CliError(
        code === 'EADDRINUSE'
          ? `Port ${port} is in use: pass another with \`--port\` (0 picks a free one).`
          : `Could not listen on ${flags['host']}:${port}: ${(error as Error).message}.`,
      );
    }
    if (flags['json']) console.log(JSON.stringify({ url: dashboard.url, runs }));
    else
      console.log(
        `Dashboard on ${dashboard.url} over ${runs} (training in the browser: ${dashboard.url}train). Ctrl-C stops it.`,
      );
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void dashboard.close().then(done);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
