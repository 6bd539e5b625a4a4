/**
 * `supcon fewshot`: classify with k labelled examples per class on frozen embeddings. Either the
 * curve (top-1 against k on the dataset's test split, seeded episodes, one or several encoders, a
 * figure with --plot), or a support folder classifying a query folder.
 */
import {
  type EncoderSource,
  FEW_SHOT_DEFAULTS,
  type FewShotCurve,
  fewShotCurve,
  fewShotFolders,
  openFrozenEncoder,
  writeFewShotPlot,
} from '@supcon/node';
import { FEW_SHOT_CLASSIFIERS, type FewShotClassifier } from 'supcon';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';

const list = (raw: string | undefined) =>
  raw === undefined
    ? []
    : raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');

function parseShots(raw: string | undefined): number[] {
  if (raw === undefined) return [...FEW_SHOT_DEFAULTS.shots];
  const shots = list(raw).map(Number);
  if (shots.length === 0 || shots.some((k) => !Number.isInteger(k) || k < 1))
    throw new CliError(
      `Invalid value for \`--shots\`. Expected a comma list of integers >= 1, e.g. 1,5,10,20. Received: ${raw}.`,
    );
  return [...new Set(shots)].sort((a, b) => a - b);
}

export const fewshotCommand: Command = {
  name: 'fewshot',
  summary:
    'Few-shot classification on frozen embeddings: top-1 against examples per class, or a support folder',
  help: [
    'Usage: supcon fewshot (--run DIR[,DIR…] | --pretrained NAME[,NAME…]) [--shots 1,5,10,20] [--episodes N]',
    '                      [--classifier ncm|knn] [--plot FILE.png] [--json]',
    '       supcon fewshot (--run DIR | --pretrained NAME) --support FOLDER --query FOLDER [--json]',
    '',
    'Curve: each episode takes the first k training images of each class in a seeded order as the',
    'support (so the 1-shot support is part of the 5-shot one) and classifies the test split; the',
    'top-1 is averaged over the episodes (mean ± std). Several encoders (a comma list of runs and/or',
    'pretrained models) share the same episodes; --plot draws one line per encoder.',
    'Folders: FOLDER/CLASS/*.png (JPEG, PNG, WebP) are the labelled examples; a query folder with class',
    'subfolders is scored, a flat one is only labelled.',
    '',
    '  --run DIRS         run folders written by `supcon train` (comma list)',
    '  --pretrained NAMES shipped models (`supcon pretrained list`; comma list)',
    '  --shots K,…        examples per class (default 1,5,10,20)',
    '  --episodes N       episodes per k (default 10)',
    '  --seed S           the episodes’ seed (default 0)',
    '  --queries N        only the first N test images (default all)',
    '  --classifier C     ncm: nearest class mean, cosine (default); knn: cosine nearest neighbours',
    '  --neighbours N     knn: voting neighbours (default 1)',
    '  --support FOLDER   labelled examples, one subfolder per class',
    '  --query FOLDER     images to classify (with --support)',
    '  --plot FILE        write the curve as a PNG figure',
    '  --quiet            no progress on stderr',
    '  --backend auto|native|cpu',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      run: { kind: 'string' },
      pretrained: { kind: 'string' },
      shots: { kind: 'string' },
      episodes: { kind: 'int', default: FEW_SHOT_DEFAULTS.episodes, min: 1 },
      seed: { kind: 'int', default: FEW_SHOT_DEFAULTS.seed, min: 0 },
      queries: { kind: 'int', min: 1 },
      classifier: { kind: 'string', default: FEW_SHOT_DEFAULTS.classifier, choices: FEW_SHOT_CLASSIFIERS },
      neighbours: { kind: 'int', min: 1 },
      support: { kind: 'string' },
      query: { kind: 'string' },
      plot: { kind: 'string' },
      quiet: { kind: 'boolean' },
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
    });
    if (positionals.length) throw new CliError(`Expected no arguments. Received: ${positionals.join(' ')}.`);
    const sources: EncoderSource[] = [
      ...list(flags['run'] as string | undefined).map((run) => ({ run })),
      ...list(flags['pretrained'] as string | undefined).map((pretrained) => ({ pretrained })),
    ];
    if (sources.length === 0)
      throw new CliError('Flag `--run DIR` or `--pretrained NAME` is required: the encoder(s) to evaluate.');
    const classifier = flags['classifier'] as FewShotClassifier;
    if (flags['neighbours'] !== undefined && classifier !== 'knn')
      throw new CliError('Flag `--neighbours` applies only with `--classifier knn`.');
    const neighbours = flags['neighbours'] as number | undefined;
    const support = flags['support'] as string | undefined;
    const query = flags['query'] as string | undefined;
    const json = flags['json'] === true;
    const quiet = json || flags['quiet'] === true;
    await selectBackend(flags['backend'] as BackendChoice, json);

    if (support !== undefined || query !== undefined) {
      if (support === undefined || query === undefined)
        throw new CliError('Flags `--support FOLDER` and `--query FOLDER` go together.');
      if (sources.length !== 1)
        throw new CliError(
          `With --support, give one encoder. Received: ${sources.length} (${sources.map((s) => ('run' in s ? s.run : s.pretrained)).join(', ')}).`,
        );
      for (const f of ['shots', 'plot', 'queries'] as const)
        if (flags[f] !== undefined)
          throw new CliError(`Flag \`--${f}\` applies only to the curve, not with --support.`);
      const frozen = await openFrozenEncoder(sources[0]!);
      try {
        const result = await fewShotFolders(frozen, support, query, {
          classifier,
          ...(neighbours !== undefined ? { neighbours } : {}),
        });
        if (json) console.log(JSON.stringify({ encoder: frozen.name, classifier, ...result }));
        else {
          for (const p of result.predictions)
            console.log(`${p.file}\t${p.predicted}${p.label !== undefined ? `\t(label ${p.label})` : ''}`);
          if (result.accuracy !== undefined)
            console.log(
              `Top-1 ${(100 * result.accuracy).toFixed(2)}% on ${result.predictions.length} images from ` +
                `${Object.values(result.supportPerClass).join('/')} examples of ${result.classes.length} classes.`,
            );
        }
      } finally {
        frozen.dispose();
      }
      return 0;
    }

    const settings = {
      shots: parseShots(flags['shots'] as string | undefined),
      episodes: flags['episodes'] as number,
      seed: flags['seed'] as number,
      classifier,
      ...(neighbours !== undefined ? { neighbours } : {}),
      ...(flags['queries'] !== undefined ? { queries: flags['queries'] as number } : {}),
    };
    const curves: FewShotCurve[] = [];
    for (const source of sources) {
      const frozen = await openFrozenEncoder(source);
      try {
        const curve = fewShotCurve(frozen, settings, (stage, done, total) => {
          if (!quiet) process.stderr.write(`\r${frozen.name}: embedding ${stage} ${done}/${total}   `);
        });
        if (!quiet) process.stderr.write('\n');
        curves.push(curve);
      } finally {
        frozen.dispose();
      }
    }
    const plot = flags['plot'] as string | undefined;
    if (plot !== undefined) await writeFewShotPlot(plot, curves);
    if (json) console.log(JSON.stringify({ ...settings, curves, ...(plot ? { plot } : {}) }));
    else
      for (const c of curves) {
        console.log(`${c.encoder} (${c.method}), ${c.queries} test images, ${settings.episodes} episodes:`);
        for (const p of c.points)
          console.log(`  k=${p.shots}: ${(100 * p.mean).toFixed(2)}% ± ${(100 * p.std).toFixed(2)}`);
      }
    return 0;
  },
};
