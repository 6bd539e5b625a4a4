/**
 * Runs benchDistributed and prints one JSON object (see bench.ts). Flags:
 *   --model mlp|small-resnet (default mlp)  --configs 1x2,1x1,2x1 (ranks x threads)  --rounds 3  --steps 12  --warmup 2
 *   --batch-size 256  --backend native|cpu (default native)
 * The data set is Fashion-MNIST (first 4096 training images), augmentation 'light'.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { presetSpec } from '../train/spec.js';
import { benchDistributed } from './bench.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'mlp' },
    configs: { type: 'string', default: '1x2,1x1,2x1' },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '12' },
    warmup: { type: 'string', default: '2' },
    'batch-size': { type: 'string', default: '256' },
    backend: { type: 'string', default: 'native' },
  },
});
const spec = presetSpec('fashion-quick');
spec.train.batchSize = Number(values['batch-size']);
spec.train.epochs = 1;
spec.data.limit = 4096;
spec.checkpointEvery = 1_000_000;
if (values.model === 'mlp') spec.model.encoder = { kind: 'mlp', hidden: [512, 256] };
else if (values.model !== 'small-resnet')
  throw new Error(
    `Invalid value for \`--model\`. Expected one of mlp, small-resnet. Received: ${values.model}.`,
  );
const backend = values.backend === 'cpu' ? 'cpu' : 'native';
const rows = await benchDistributed({
  spec,
  configs: values.configs.split(',').map((c) => {
    const [processes, threads] = c.split('x').map(Number);
    return { processes: processes!, threads: threads ?? 1 };
  }),
  rounds: Number(values.rounds),
  steps: Number(values.steps),
  warmup: Number(values.warmup),
  backend,
});
const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(cpuinfo)?.[1]?.trim();
console.log(
  JSON.stringify({
    date: new Date().toISOString(),
    cpu: field('model name'),
    cpuFamily: Number(field('cpu family')),
    ompWaitPolicy: process.env['OMP_WAIT_POLICY'] ?? null,
    model: values.model,
    batchSize: spec.train.batchSize,
    backend,
    rows,
  }),
);
