/**
 * `supcon report --run DIR`: writes DIR/report.html and its PNG charts for any run folder (from
 * `train`, `demo`, a sweep member), from what the folder holds; what it lacks is named in the report
 * with the command that adds it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isRunFolder, type ReportEmbeddings, runEmbeddings, runFiles, writeRunReport } from '@supcon/node';
import { PROJECTIONS, type Projection } from 'supcon';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';

const DEFAULT_POINTS = 2000;

export const reportCommand: Command = {
  name: 'report',
  summary: 'Write report.html (loss and accuracy curves, results, hyperparameters, embeddings) for a run',
  help: [
    'Usage: supcon report --run DIR [--points N] [--projection umap|pca] [--backend B] [--json]',
    '',
    'Writes DIR/report.html with its charts (loss.png, accuracy.png, results.png, embedding.png, each when',
    'there is something to draw) for a run folder of `supcon train`, `supcon demo` or a sweep member.',
    'The page shows the run (start date and command line, "not recorded" for runs made before they',
    'were), the hyperparameters of config.json, the results of summary.json in percent, each named by',
    'its split and settings (the linear probe on test, kNN with its k and bank, the kNN monitor on',
    'validation), and a 2-D picture of the encoder features coloured by class (UMAP; the test split,',
    'or the validation split when the dataset has none). A run without some of these still gets a',
    'report that says what is missing and which command adds it (e.g. `supcon linear --run DIR`).',
    'Every file is written atomically, report.html last.',
    '',
    '  --run DIR          the run folder (required)',
    `  --points N         images embedded for the projection (default ${DEFAULT_POINTS}, evenly spaced through the`,
    '                     split; 0: no projection, and neither the dataset nor the checkpoint is loaded)',
    '  --projection P     umap (default: seeded, neighbourhoods kept; ~5 s for 2,000 points) | pca (linear,',
    '                     instant); fewer than 16 points are drawn by PCA',
    '  --backend B        auto (default: native oneDNN engine when it loads) | native | cpu',
    '  --json             print {report, figures, missing} as one JSON object',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      run: { kind: 'string' },
      points: { kind: 'int', min: 0, default: DEFAULT_POINTS },
      projection: { kind: 'string', default: 'umap', choices: PROJECTIONS },
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
    });
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon report --help\`.`);
    const run = flags['run'] as string | undefined;
    if (run === undefined) throw new CliError('Flag `--run DIR` is required: the run folder to report on.');
    checkRunFolder(run);
    const points = flags['points'] as number;
    const json = flags['json'] === true;
    let embeddings: ReportEmbeddings | undefined;
    let embeddingsMissing: string | undefined;
    if (points === 0)
      embeddingsMissing = 'No embedding projection: the report was written with `--points 0`.';
    else if (!existsSync(runFiles(run).checkpoint))
      embeddingsMissing = `No checkpoint.bin, so no embedding projection: train the run (\`supcon train --out ${run}\`) and report again.`;
    else {
      await selectBackend(flags['backend'] as BackendChoice, json);
      try {
        embeddings = await runEmbeddings(run, points);
      } catch (error) {
        // The rest of the report does not need the data or the weights: say why and go on.
        const why = error instanceof Error ? error.message : String(error);
        embeddingsMissing = `No embedding projection: the encoder or its dataset could not be loaded (${why})`;
        console.error(`supcon report: warning: ${embeddingsMissing}`);
      }
    }
    const result = await writeRunReport(run, {
      projection: flags['projection'] as Projection,
      ...(embeddings ? { embeddings } : {}),
      ...(embeddingsMissing ? { embeddingsMissing } : {}),
    });
    if (json)
      console.log(JSON.stringify({ report: result.file, figures: result.figures, missing: result.missing }));
    else {
      for (const m of result.missing) console.log(`missing: ${m}`);
      console.log(`Report: ${result.file}`);
    }
    return 0;
  },
};

/** One sentence for a `--run` that is not a run folder (missing, a file, a sweep folder). */
function checkRunFolder(run: string): void {
  if (!existsSync(run) || !statSync(run).isDirectory())
    throw new CliError(
      `Invalid value for \`--run\`. Expected a run folder written by \`supcon train\` or \`supcon demo\`. Received: ${run} (${existsSync(run) ? 'a file' : 'no such folder'}).`,
    );
  if (isRunFolder(run)) return;
  const members = existsSync(join(run, 'sweep.json'))
    ? readdirSync(run).filter((name) => existsSync(runFiles(join(run, name)).config))
    : [];
  throw new CliError(
    members.length > 0
      ? `Invalid value for \`--run\`. Expected a run folder, not a sweep folder. Received: ${run}; report on one of its runs, e.g. \`--run ${join(run, members[0]!)}\`.`
      : `Invalid value for \`--run\`. Expected a run folder holding config.json or metrics.jsonl. Received: ${run}.`,
  );
}
