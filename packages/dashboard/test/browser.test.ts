/**
 * The pages in a real browser (headless Chromium): the dashboard renders the runs of a temporary
 * folder, and the /train page trains a SupCon encoder with supcon's Trainer in the tab, posting its
 * losses back. Skipped (with the reason) only when no Chromium is installed.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Dashboard, startDashboard } from '../src/index.js';
import { PALETTE } from '../web/plot.js';
import { browse, kill, skip } from './chromium.js';
import { config, line, makeRunsFolder, step } from './fixtures.js';

/** `--dump-dom` of `url` once the page's virtual time has run out (needs the network to go idle). */
async function dumpDom(url: string, profile: string): Promise<string> {
  const b = browse(url, profile, ['--virtual-time-budget=15000', '--dump-dom']);
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
  return dom;
}

describe('pages in headless Chromium', { skip }, () => {
  let dashboard: Dashboard;
  let folder: { root: string; runs: string };
  let profile: string;
  const reports: unknown[] = [];
  let reported = () => {};
  before(async () => {
    folder = makeRunsFolder();
    // A run on another dataset, to compare against.
    mkdirSync(join(folder.runs, 'cifar'));
    writeFileSync(join(folder.runs, 'cifar', 'config.json'), JSON.stringify(config('supcon', 1, 'cifar10')));
    writeFileSync(
      join(folder.runs, 'cifar', 'metrics.jsonl'),
      line(step(0, 6.1)) +
        line(step(1, 5.9)) +
        line({ type: 'epoch', epoch: 0, iteration: 2, loss: 6, seconds: 1, knnAccuracy: 0.3 }),
    );
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
    // live=0 (the older spelling of static=1): no SSE stream, so the network goes idle and --dump-dom fires.
    const dom = await dumpDom(`${dashboard.url}?live=0&run=a`, join(profile, 'dom'));
    for (const id of ['a', 'b', 'cifar', 'live', 'tau/temperature=0.1'])
      assert.ok(dom.includes(`data-run="${id}"`), id);
    // The loss plot of run a: its 3 step losses (faint) and 1 epoch mean, in a's colour.
    const loss = /<section id="loss">.*?<\/section>/s.exec(dom)?.[0] ?? '';
    assert.match(loss, /data-points="4"/);
    const colorA = PALETTE[0]!;
    assert.match(
      loss,
      new RegExp(`<path d="M[^"]+" fill="none" stroke="${colorA}" stroke-width="1" stroke-opacity="0.35"`),
    );
    // Run a's row: ticked, its colour, then precision, batch, lr and τ from config.json.
    assert.match(
      dom,
      new RegExp(
        `<tr data-run="a" class="selected"><td><input type="checkbox" data-compare="a" aria-label="compare a" checked=""><span class="swatch" style="background:\\s*(${colorA}|rgb\\(31, 119, 180\\));?"></span></td><td>a</td><td>supcon</td><td>fashion-mnist</td><td>mlp</td><td>fp32</td><td>64</td><td>0.05</td><td>0.1</td>`,
      ),
    );
    // Cross-entropy has no τ.
    assert.match(
      dom,
      /<td>b<\/td><td>ce<\/td><td>fashion-mnist<\/td><td>mlp<\/td><td>fp32<\/td><td>64<\/td><td>0.05<\/td><td><\/td>/,
    );
    // One dataset among the ticked runs: no note.
    assert.doesNotMatch(loss, /data-note/);
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
    // The probe's calibration: clean in the heading, the mean over corruptions per severity as a row.
    assert.match(dom, /mean corruption error 36.25 %, clean ECE 5.00 %, 100 test images/);
    assert.match(dom, /<tr data-ece="a"><td>mean ECE %<\/td><td>10.00<\/td><td>20.00<\/td><\/tr>/);
    assert.match(dom, /data-sweep="tau"/);
  });

  it('--static: overlays ticked runs with a legend and notes that their datasets differ', async () => {
    const still = await startDashboard({ runs: folder.runs, port: 0, static: true });
    try {
      // No ?live=0: the server's screenshot mode alone lets the page go idle.
      const dom = await dumpDom(`${still.url}?run=a&run=cifar`, join(profile, 'static'));
      assert.match(dom, /<body data-static="true"/);
      const loss = /<section id="loss">.*?<\/section>/s.exec(dom)?.[0] ?? '';
      assert.match(loss, /<h2>Training loss: 2 runs<\/h2>/);
      // One curve per run in its own colour, each named in the legend.
      assert.match(loss, new RegExp(`stroke="${PALETTE[0]}"[^>]*data-series="a"`));
      assert.match(loss, /data-series="cifar"/);
      assert.match(loss, /data-legend="a"/);
      assert.match(loss, /data-legend="cifar"/);
      assert.match(
        loss,
        /<p class="note" data-note="datasets">These runs use different datasets, fashion-mnist \(a\); cifar10 \(cifar\): their losses and accuracies are not comparable\.<\/p>/,
      );
      const acc = /<section id="accuracy">.*?<\/section>/s.exec(dom)?.[0] ?? '';
      assert.match(acc, /data-note="datasets"/);
      assert.match(acc, /data-points="2"/); // a's and cifar's kNN after epoch 1
      for (const id of ['a', 'cifar'])
        assert.match(dom, new RegExp(`data-compare="${id}" aria-label="compare ${id}" checked=""`));
      assert.doesNotMatch(dom, /data-compare="b" aria-label="compare b" checked/);
    } finally {
      await still.close();
    }
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
