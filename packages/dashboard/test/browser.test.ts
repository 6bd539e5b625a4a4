/**
 * The pages in a real browser (headless Chromium): the dashboard renders the runs of a temporary
 * folder, and the /train page trains a SupCon encoder with supcon's Trainer in the tab, posting its
 * losses back. Skipped (with the reason) only when no Chromium is installed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dashboard, startDashboard } from '../src/index.js';
import { line, makeRunsFolder, step } from './fixtures.js';

function findChromium(): string | undefined {
  for (const name of [process.env['CHROMIUM'], 'chromium', 'chromium-browser', 'google-chrome']) {
    if (!name) continue;
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
      return name;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const chromium = findChromium();
const skip = chromium ? false : 'Chromium is not installed (apt-get install -y chromium)';

/** Runs Chromium headless on `url` (in its own process group, killed at the end). */
function browse(url: string, profile: string, extra: string[] = []) {
  const child = spawn(
    chromium!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      // Software WebGL (SwiftShader) for our own trusted page: newer Chromium wants the opt-in.
      '--enable-unsafe-swiftshader',
      '--disable-dev-shm-usage',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      ...extra,
      url,
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

function kill(child: ChildProcess): void {
  if (child.exitCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL'); // the group: Chromium's helper processes too
  } catch {
    // already gone
  }
}

describe('pages in headless Chromium', { skip }, () => {
  let dashboard: Dashboard;
  let folder: { root: string; runs: string };
  let profile: string;
  const reports: unknown[] = [];
  let reported = () => {};
  before(async () => {
    folder = makeRunsFolder();
    profile = mkdtempSync(join(tmpdir(), 'supcon-chromium-'));
    dashboard = await startDashboard({
      runs: folder.runs,
      port: 0,
      onClientReport: (r) => {
        reports.push(r);
        reported();
      },
    });
  });
  after(async () => {
    await dashboard.close();
    rmSync(folder.root, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  });

  it('renders the runs table, the loss curve, the comparison, robustness and sweeps', async () => {
    // live=0: no SSE stream, so the page's network goes idle and --dump-dom can fire.
    const b = browse(`${dashboard.url}?live=0&run=a`, join(profile, 'dom'), [
      '--virtual-time-budget=15000',
      '--dump-dom',
    ]);
    const timer = setTimeout(() => kill(b.child), 45_000);
    await b.exited;
    clearTimeout(timer);
    const dom = b.output().stdout;
    assert.match(
      dom,
      /data-ready="true"/,
      `page did not finish: ${dom.slice(0, 400)} ${b.output().stderr.slice(-800)}`,
    );
    assert.ok(!dom.includes('id="error"'), dom);
    for (const id of ['a', 'b', 'live', 'tau/temperature=0.1'])
      assert.ok(dom.includes(`data-run="${id}"`), id);
    // The loss plot of run a: its 3 step losses and 1 epoch mean.
    const loss = /<section id="loss">.*?<\/section>/s.exec(dom)?.[0] ?? '';
    assert.match(loss, /data-points="4"/);
    assert.match(loss, /<path d="M[^"]+" fill="none" stroke="#9ecae1"/);
    // kNN accuracy per epoch, test top-1 of the two evaluated runs, a's robustness table, the sweep.
    assert.match(/<section id="accuracy">.*?<\/section>/s.exec(dom)?.[0] ?? '', /data-points="1"/);
    assert.match(dom, /data-bars="2"/);
    assert.match(dom, /data-label="a \(supcon\)" data-value="0.8"/);
    assert.match(dom, /data-robustness="a"/);
    // The runs table: mCE against the baseline (a ratio) and the absolute corruption error (%), labelled apart.
    assert.match(
      dom,
      /<th title="mCE: [^"]*">mCE vs baseline<\/th><th title="absolute[^"]*">corruption error %<\/th>/,
    );
    assert.match(dom, /<td title="baseline: runs\/b">0\.948<\/td><td>36\.50<\/td>/);
    assert.doesNotMatch(dom, /mCE %/);
    assert.match(dom, /<td>contrast<\/td><td>75.00<\/td><td>50.00<\/td>/);
    assert.match(dom, /data-sweep="tau"/);
  });

  it('redraws the loss curve live when the run appends a metrics line (SSE)', async () => {
    const b = browse(`${dashboard.url}?report=1&run=live`, join(profile, 'live'));
    const next = (test: (r: Record<string, unknown>) => boolean, what: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${what}: no such report in 30 s (${JSON.stringify(reports.slice(-3))})`)),
          30_000,
        );
        const check = () => {
          const hit = reports.find((r) => test(r as Record<string, unknown>));
          if (hit) {
            clearTimeout(timer);
            resolve(hit as Record<string, unknown>);
          }
        };
        reported = check;
        check();
      });
    try {
      const isLive = (r: Record<string, unknown>) => r['page'] === 'dashboard' && r['run'] === 'live';
      const before = await next((r) => isLive(r) && r['steps'] === 1, 'first draw');
      assert.equal(before['plotted'], 1);
      appendFileSync(join(folder.runs, 'live', 'metrics.jsonl'), line(step(1, 5.75)));
      const after = await next((r) => isLive(r) && r['steps'] === 2, 'redraw after the append');
      assert.equal(after['lastLoss'], 5.75);
      assert.equal(after['plotted'], 2);
    } finally {
      kill(b.child);
      await b.exited;
    }
  });

  it('trains a SupCon encoder in the browser tab and the loss falls', async () => {
    const steps = 24;
    const url = `${dashboard.url}train?auto=1&report=1&dataset=synthetic&images=512&holdout=200&batch=64&steps=${steps}&lr=0.05`;
    const b = browse(url, join(profile, 'train'));
    try {
      const report = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no report from the page in 100 s: ${b.output().stderr.slice(-1500)}`)),
          100_000,
        );
        reported = () => {
          clearTimeout(timer);
          resolve(reports.at(-1) as Record<string, unknown>);
        };
        void b.exited.then((code) =>
          reject(new Error(`Chromium exited (${code}): ${b.output().stderr.slice(-1500)}`)),
        );
      });
      assert.equal(report['error'], undefined, String(report['error']));
      assert.ok(['webgl', 'cpu'].includes(String(report['backend'])), String(report['backend']));
      const losses = report['losses'] as number[];
      assert.equal(losses.length, steps);
      assert.ok(losses.every(Number.isFinite), String(losses));
      const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
      const first = mean(losses.slice(0, 5));
      const last = mean(losses.slice(-5));
      assert.ok(
        last < first - 0.2,
        `loss did not fall: first 5 ${first.toFixed(3)}, last 5 ${last.toFixed(3)}`,
      );
      // The held-out embeddings got better at separating the classes (about 0.35 -> 0.8 here).
      assert.ok(
        (report['knnAfter'] as number) > (report['knnBefore'] as number) + 0.1,
        JSON.stringify(report),
      );
      // The same module in Node (tfjs cpu backend) trains identically: same data, weights, views, losses.
      const { createSession, syntheticData } = await import('../web/session.js');
      const data = syntheticData(512, 200);
      const { trainer } = createSession(data, { method: 'supcon', batch: 64, steps, lr: 0.05 });
      const inNode = Array.from({ length: 6 }, () => trainer.step().loss);
      const gap = Math.max(...inNode.map((l, k) => Math.abs(l - losses[k]!) / l));
      for (const [k, l] of inNode.entries())
        assert.ok(
          Math.abs(l - losses[k]!) < 1e-4 * Math.abs(l),
          `step ${k}: Node ${l}, browser ${losses[k]}`,
        );
      console.log(
        `browser training: ${report['backend']}, ${steps} steps in ${(report['seconds'] as number).toFixed(1)} s, ` +
          `median ${(report['stepsPerSecond'] as number).toFixed(2)} steps/s, loss ${first.toFixed(3)} -> ${last.toFixed(3)}, ` +
          `kNN ${report['knnBefore']} -> ${report['knnAfter']}; Node cpu vs browser, first 6 losses: max relative gap ${gap.toExponential(1)}`,
      );
    } finally {
      kill(b.child);
      await b.exited;
    }
  });
});
