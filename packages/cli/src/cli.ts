/**
 * The `supcon` command line: parses flags and calls the same public API users call.
 * Each command lives in its own module under commands/ and registers here.
 */
import { CliError, EXIT, exitCodeOf } from './command.js';
import { allCommands as commands } from './commands/index.js';

function helpText(): string {
  const lines = ['Usage: supcon <command> [options]', '', 'Commands:'];
  for (const c of commands) lines.push(`  ${c.name.padEnd(16)} ${c.summary}`);
  lines.push(
    '',
    'Options for every command:',
    '  --json       print one JSON object on stdout',
    '  --verbose    show stack traces on errors',
    '  --help       show help for a command',
    '',
    'Errors are one sentence on stderr. Exit codes: 0 done; 1 the command failed (a dataset missing or',
    'damaged, a damaged checkpoint, a failed download or worker); 2 the command line cannot run as written',
    '(unknown flag, bad value or config file, an output path that cannot be written); 130 stopped by',
    'SIGINT/SIGTERM after writing the checkpoint.',
  );
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      console.log(helpText());
      return 0;
    }
    // Commands may have sub-commands ("bench loss"): match the longest name.
    const match = commands
      .filter((c) => {
        const words = c.name.split(' ');
        return words.every((w, i) => argv[i] === w);
      })
      .sort((a, b) => b.name.length - a.name.length)[0];
    if (!match) {
      const group = commands.filter((c) => c.name.startsWith(`${argv[0]} `));
      if (group.length > 0 && (argv.length === 1 || argv[1]?.startsWith('-'))) {
        console.log(['Usage:', ...group.map((c) => `  supcon ${c.name.padEnd(16)} ${c.summary}`)].join('\n'));
        return argv.includes('--help') ? EXIT.ok : EXIT.usage; // a group without its sub-command: bad usage
      }
      throw new CliError(
        `Unknown command \`${argv.slice(0, 2).join(' ')}\`. Run \`supcon --help\` to list the commands.`,
      );
    }
    const rest = argv.slice(match.name.split(' ').length);
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(match.help);
      return 0;
    }
    return await match.run(rest);
  } catch (error) {
    // The one place where an error becomes an exit code: a UserError's own, anything else 1.
    const message = error instanceof Error ? error.message : String(error);
    console.error(`supcon: ${message}`);
    if (verbose && error instanceof Error && error.stack) console.error(error.stack);
    return exitCodeOf(error);
  }
}
