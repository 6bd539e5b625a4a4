/**
 * `supcon pretrained list|info|check|pack`: the encoders shipped in @supcon/pretrained, their model
 * cards, a check that the shipped files still give the card's numbers, and (for maintainers) packing
 * a finished run as a new shipped model.
 */
import { checkPretrained, packPretrained } from '@supcon/node';
import { listPretrained, type ModelCard, pretrainedCard, pretrainedDir } from '@supcon/pretrained';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';

/** `--models-dir DIR`: a models folder of one's own (what `pretrained pack --models-dir` wrote). */
const modelsDirFlag = { 'models-dir': { kind: 'string' } } as const;
const modelsDirHelp = '  --models-dir DIR   read another models folder than the shipped one';
const where = (flags: Record<string, unknown>) =>
  flags['models-dir'] === undefined ? {} : { modelsDir: flags['models-dir'] as string };

const pct = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(2)}%`;

function oneName(positionals: string[], usage: string): string {
  if (positionals.length !== 1)
    throw new CliError(
      `Expected one model NAME (${usage}). Received: ${positionals.length ? positionals.join(' ') : 'none'}.`,
    );
  return positionals[0]!;
}

export const pretrainedListCommand: Command = {
  name: 'pretrained list',
  summary: 'List the pretrained encoders shipped with supcon (offline), with their accuracies',
  help: [
    'Usage: supcon pretrained list [--models-dir DIR] [--json]',
    '',
    'One line per model: name, method, encoder, linear-probe and kNN test top-1, size.',
    'With --json: {"models": [card, ...]}, each card as `supcon pretrained info NAME --json` prints it.',
    '',
    modelsDirHelp,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, modelsDirFlag);
    if (positionals.length) throw new CliError(`Expected no arguments. Received: ${positionals.join(' ')}.`);
    const cards = await listPretrained(where(flags));
    if (flags['json']) {
      console.log(JSON.stringify({ models: cards }));
      return 0;
    }
    if (cards.length === 0) console.log('No pretrained models are shipped in this build.');
    for (const c of cards)
      console.log(
        `${c.name}  ${c.method}, ${String(c.model.encoder['kind'])}, ${c.dataset}: linear probe ${pct(c.linearProbe.test)}, ` +
          `kNN ${pct(c.knn.test)} (test), ${c.parameters.toLocaleString('en-US')} parameters, ${(c.bytes / 1e6).toFixed(2)} MB`,
      );
    return 0;
  },
};

function describe(c: ModelCard, dir: string): string {
  return [
    `${c.name}: ${c.description}`,
    `  method ${c.method}; encoder ${JSON.stringify(c.model.encoder)}; features [${c.outputDim}]`,
    `  dataset ${c.dataset} (${c.classes.length} classes), input ${c.inputShape.join('×')}, ${c.epochs} epochs, seed ${c.seed}`,
    `  linear probe: validation ${pct(c.linearProbe.validation)}, test ${pct(c.linearProbe.test)}`,
    `  kNN (k 200, τ 0.1): validation ${pct(c.knn.validation)}, test ${pct(c.knn.test)}`,
    ...(c.retrieval
      ? [
          `  retrieval (test vs train): ${Object.entries(c.retrieval)
            .map(([k, v]) => `${k} ${pct(v)}`)
            .join(', ')}`,
        ]
      : []),
    `  ${c.parameters.toLocaleString('en-US')} parameters, ${(c.bytes / 1e6).toFixed(2)} MB, stored ${c.precision}, trained ${c.trainedPrecision}`,
    `  trained ${c.date} on ${c.cpu} in ${c.trainSeconds} s`,
    `  reproduce: ${c.command}`,
    `  files: ${dir}`,
  ].join('\n');
}

export const pretrainedInfoCommand: Command = {
  name: 'pretrained info',
  summary: "Print a pretrained encoder's model card: recipe, command, accuracies, size",
  help: [
    'Usage: supcon pretrained info NAME [--models-dir DIR] [--json]',
    '',
    'With --json: the card as stored (card.json).',
    '',
    modelsDirHelp,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, modelsDirFlag);
    const name = oneName(positionals, 'see `supcon pretrained list`');
    const card = await pretrainedCard(name, where(flags));
    console.log(flags['json'] ? JSON.stringify(card) : describe(card, pretrainedDir(name, where(flags))));
    return 0;
  },
};

export const pretrainedCheckCommand: Command = {
  name: 'pretrained check',
  summary: "Recompute a pretrained encoder's card check (features and kNN top-1 on a fixed subset)",
  help: [
    'Usage: supcon pretrained check NAME [--tolerance T] [--models-dir DIR] [--backend auto|native|cpu] [--json]',
    '',
    'Loads the shipped files, embeds the first test images and compares them with the card, and',
    'recomputes the kNN top-1 of the first 1,000 test images against the first 10,000 training',
    'images. Exit code 1 when the kNN top-1 differs from the card by more than T (default 0.005)',
    'or a feature by more than 1e-3.',
    '',
    '  --tolerance T      accepted |kNN top-1 − card| (a fraction, default 0.005)',
    modelsDirHelp,
    '  --backend auto|native|cpu',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      tolerance: { kind: 'number', default: 0.005, min: 0 },
      ...modelsDirFlag,
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
    });
    const name = oneName(positionals, 'see `supcon pretrained list`');
    await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
    const result = await checkPretrained(name, where(flags));
    const ok =
      Math.abs(result.knnTop1 - result.cardKnnTop1) <= (flags['tolerance'] as number) &&
      result.featuresMaxAbsDiff <= 1e-3;
    if (flags['json']) console.log(JSON.stringify({ ...result, ok }));
    else
      console.log(
        `${name}: kNN top-1 ${pct(result.knnTop1)} (card ${pct(result.cardKnnTop1)}) on the first ${result.queries} ` +
          `test images against the first ${result.gallery} training images; features within ${result.featuresMaxAbsDiff.toExponential(1)}: ` +
          (ok ? 'ok' : 'MISMATCH'),
      );
    return ok ? 0 : 1;
  },
};

export const pretrainedPackCommand: Command = {
  name: 'pretrained pack',
  summary: 'Maintainers: pack a finished run as a shipped pretrained encoder (card + layers model)',
  help: [
    'Usage: supcon pretrained pack RUN_DIR --name NAME --description TEXT [--models-dir DIR] [--command CMD] [--cpu MODEL]',
    '                             [--train-seconds S] [--json]',
    '',
    'Exports the run’s encoder (features, no head) into DIR/NAME (default: the @supcon/pretrained',
    'package’s models folder) with card.json: the run’s recipe, accuracies (summary.json), the',
    'command that retrains it, and the check `supcon pretrained check` recomputes; then lists NAME',
    'in DIR/index.json. The folder is written whole or not at all.',
    '',
    '  --name NAME        lower-case letters, digits, ".", "_", "-"',
    '  --description TEXT one line for `supcon pretrained list`',
    '  --models-dir DIR   another models folder',
    '  --command CMD      the retraining command (default: the one summary.json recorded)',
    '  --cpu MODEL        the CPU the run trained on (default: this machine’s)',
    '  --train-seconds S  training seconds to record (default: summary.json’s)',
    '  --backend auto|native|cpu',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      name: { kind: 'string' },
      description: { kind: 'string' },
      'models-dir': { kind: 'string' },
      command: { kind: 'string' },
      cpu: { kind: 'string' },
      'train-seconds': { kind: 'number', min: 0 },
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
    });
    if (positionals.length !== 1)
      throw new CliError(
        `Expected one RUN_DIR argument. Received: ${positionals.length ? positionals.join(' ') : 'none'}.`,
      );
    const name = flags['name'] as string | undefined;
    const description = flags['description'] as string | undefined;
    if (name === undefined) throw new CliError('Flag `--name NAME` is required: the model’s name.');
    if (description === undefined)
      throw new CliError('Flag `--description TEXT` is required: one line for `supcon pretrained list`.');
    await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
    const optional = (key: string) => (flags[key] as string | undefined) ?? undefined;
    const card = await packPretrained({
      run: positionals[0]!,
      name,
      description,
      ...(optional('models-dir') ? { modelsDir: optional('models-dir')! } : {}),
      ...(optional('command') ? { command: optional('command')! } : {}),
      ...(optional('cpu') ? { cpu: optional('cpu')! } : {}),
      ...(flags['train-seconds'] !== undefined ? { trainSeconds: flags['train-seconds'] as number } : {}),
    });
    console.log(
      flags['json'] ? JSON.stringify(card) : `Packed ${card.name}: kNN check ${pct(card.check.knnTop1)}.`,
    );
    return 0;
  },
};
