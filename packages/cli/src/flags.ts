/**
 * A small, strict flag parser shared by every command: `--name value`, `--name=value` and
 * boolean `--flag`. Unknown flags and malformed values are errors naming the flag.
 */
import { CliError } from './command.js';

export type FlagKind = 'string' | 'int' | 'number' | 'boolean';
export interface FlagSpec {
  kind: FlagKind;
  default?: string | number | boolean;
  /** For int/number flags: the smallest accepted value. */
  min?: number;
  /** The accepted values: strings for string flags, numbers for int/number flags. */
  choices?: readonly (string | number)[];
}
export type FlagValues = Record<string, string | number | boolean | undefined>;

export function parseFlags(
  argv: string[],
  specs: Record<string, FlagSpec>,
): { flags: FlagValues; positionals: string[] } {
  const all: Record<string, FlagSpec> = { json: { kind: 'boolean' }, verbose: { kind: 'boolean' }, ...specs };
  const flags: FlagValues = {};
  const positionals: string[] = [];
  for (const [name, spec] of Object.entries(all)) if (spec.default !== undefined) flags[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = all[name];
    if (!spec) {
      throw new CliError(
        `Unknown flag \`--${name}\`. Known flags: ${Object.keys(all)
          .map((n) => `--${n}`)
          .join(', ')}.`,
      );
    }
    if (spec.kind === 'boolean') {
      flags[name] = eq >= 0 ? arg.slice(eq + 1) !== 'false' : true;
      continue;
    }
    const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new CliError(`Flag \`--${name}\` expects a value but received none.`);
    flags[name] = convert(name, spec, raw);
  }
  return { flags, positionals };
}

function convert(name: string, spec: FlagSpec, raw: string): string | number {
  if (spec.kind === 'string') {
    if (spec.choices && !spec.choices.includes(raw)) {
      throw new CliError(
        `Invalid value for \`--${name}\`. Expected one of ${spec.choices.join(', ')}. Received: ${raw}.`,
      );
    }
    return raw;
  }
  const value = Number(raw);
  const isInt = spec.kind === 'int';
  if (raw.trim() === '' || !Number.isFinite(value) || (isInt && !Number.isInteger(value))) {
    throw new CliError(
      `Invalid value for \`--${name}\`. Expected ${isInt ? 'an integer' : 'a number'}. Received: ${raw}.`,
    );
  }
  if (spec.min !== undefined && value < spec.min) {
    throw new CliError(`Invalid value for \`--${name}\`. Expected a value >= ${spec.min}. Received: ${raw}.`);
  }
  if (spec.choices && !spec.choices.includes(value)) {
    throw new CliError(
      `Invalid value for \`--${name}\`. Expected one of ${spec.choices.join(', ')}. Received: ${raw}.`,
    );
  }
  return value;
}
