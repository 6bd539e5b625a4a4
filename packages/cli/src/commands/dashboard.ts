/**
 * `supcon dashboard [--runs DIR] [--port P] [--host H] [--allow-host NAMES] [--static]`: serves the
 * dashboard over the run folders under DIR (hyperparameters, loss and accuracy curves of several runs
 * overlaid, live while a run trains; test top-1 across runs; robustness tables; sweeps) and the page
 * that trains a SupCon encoder in the browser tab. Runs until Ctrl-C.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isHostName, isLoopback, startDashboard } from '@supcon/dashboard';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';

export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'Serve the dashboard (runs, curves, robustness, sweeps) and in-browser training',
  help: [
    'Usage: supcon dashboard [--runs DIR] [--port P] [--host H] [--allow-host NAMES] [--static] [--json]',
    '',
    'Serves a local web page over the run folders under DIR (three levels deep): the runs table with',
    "each run's hyperparameters (lr, τ, batch, epochs, method, encoder, precision), loss and kNN curves",
    'of the ticked runs overlaid, one colour per run (live while they train), test top-1 across runs,',
    'robustness tables and sweep plots; and /train, which trains a small SupCon encoder in the browser',
    'tab (WebGL, else cpu). Ctrl-C stops it.',
    '',
    '  --runs DIR          the folder holding run folders (default runs)',
    '  --port P            TCP port (default 8080; 0 picks a free one)',
    '  --host H            interface to listen on (default 127.0.0.1). The dashboard has no',
    '                      authentication: an address other than loopback gets a warning',
    '  --allow-host NAMES  comma-separated host names the browser may use besides localhost and the',
    '                      listening address (other Host headers get 403, against DNS rebinding)',
    '  --static            screenshot mode: no live stream and no refresh, so headless browsers',
    '                      (--dump-dom, --virtual-time-budget) finish; one page: add ?static=1',
    '  --json              print {"url": ...} once listening',
    '',
    'Examples:',
    '  npx supcon dashboard --runs runs --port 8080   # then open http://127.0.0.1:8080/',
    '  npx supcon dashboard --static --port 8080 &',
    '  chromium --headless --no-sandbox --screenshot=runs.png --virtual-time-budget=10000 \\',
    '    http://127.0.0.1:8080/',
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      runs: { kind: 'string', default: 'runs' },
      port: { kind: 'int', default: 8080, min: 0 },
      host: { kind: 'string', default: '127.0.0.1' },
      'allow-host': { kind: 'string', default: '' },
      static: { kind: 'boolean' },
    });
    const port = flags['port'] as number;
    if (port > 65535)
      throw new CliError(`Invalid value for \`--port\`. Expected a port from 0 to 65535. Received: ${port}.`);
    const host = flags['host'] as string;
    const allowedHosts = (flags['allow-host'] as string)
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '');
    const badName = allowedHosts.find((n) => !isHostName(n));
    if (badName !== undefined)
      throw new CliError(
        `Invalid value for \`--allow-host\`. Expected comma-separated host names without ports (e.g. mybox,mybox.lan). Received: ${badName}.`,
      );
    const runs = resolve(flags['runs'] as string);
    if (!existsSync(runs) || !statSync(runs).isDirectory())
      throw new CliError(
        `Invalid value for \`--runs\`. Expected a folder of run folders (as written by \`supcon train --out\`). Received: ${flags['runs']}.`,
      );
    let dashboard: Awaited<ReturnType<typeof startDashboard>>;
    try {
      dashboard = await startDashboard({
        runs,
        port,
        host,
        allowedHosts,
        ...(flags['static'] ? { static: true } : {}),
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CliError(
        code === 'EADDRINUSE'
          ? `Port ${port} is in use: pass another with \`--port\` (0 picks a free one).`
          : `Could not listen on ${flags['host']}:${port}: ${(error as Error).message}.`,
      );
    }
    if (!isLoopback(host))
      console.error(
        `supcon: warning: the dashboard listens on ${host}, which other machines can reach, and has no authentication: anyone who can connect can read every run under ${runs}.`,
      );
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
