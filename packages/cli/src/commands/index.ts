/**
 * The explicit list of CLI commands. Each command lives in its own module in this folder;
 * add one import and one entry per command.
 */
import type { Command } from '../command.js';
import { benchAugmentCommand } from './bench-augment.js';
import { benchGradcacheCommand } from './bench-gradcache.js';
import { benchLossCommand } from './bench-loss.js';
import { benchMpiCommand } from './bench-mpi.js';
import { benchOverlapCommand } from './bench-overlap.js';
import { benchStepCommand } from './bench-step.js';
import { dashboardCommand } from './dashboard.js';
import { dataDownloadCommand } from './data-download.js';
import { dataInspectCommand } from './data-inspect.js';
import { dataPreviewCommand } from './data-preview.js';
import { demoCommand } from './demo.js';
import { embedCommand } from './embed.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { fewshotCommand } from './fewshot.js';
import { linearCommand } from './linear.js';
import { predictCommand } from './predict.js';
import {
  pretrainedCheckCommand,
  pretrainedInfoCommand,
  pretrainedListCommand,
  pretrainedPackCommand,
} from './pretrained.js';
import { reportCommand } from './report.js';
import { robustnessCommand } from './robustness.js';
import { searchCommand } from './search.js';
import { indexCommand } from './search-index.js';
import { studyCommand } from './study.js';
import { sweepCommand } from './sweep.js';
import { trainCommand } from './train.js';
import { trainDistributedCommand } from './train-distributed.js';

export const allCommands: Command[] = [
  benchLossCommand,
  benchStepCommand,
  dataDownloadCommand,
  dataInspectCommand,
  dataPreviewCommand,
  benchAugmentCommand,
  benchOverlapCommand,
  benchGradcacheCommand,
  benchMpiCommand,
  trainCommand,
  trainDistributedCommand,
  linearCommand,
  evalCommand,
  embedCommand,
  predictCommand,
  indexCommand,
  searchCommand,
  exportCommand,
  pretrainedListCommand,
  pretrainedInfoCommand,
  pretrainedCheckCommand,
  pretrainedPackCommand,
  fewshotCommand,
  demoCommand,
  reportCommand,
  robustnessCommand,
  sweepCommand,
  studyCommand,
  dashboardCommand,
];
