/** The `attnc` command line. Exit codes: 0 ok, 1 diagnostics, 2 usage. */
import { Command, CommanderError } from 'commander';
import { checkCommand } from './commands/check.ts';
import { fmtCommand } from './commands/fmt.ts';
import { EXIT } from './output.ts';
import { VERSION } from '../compiler/version.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('attnc')
    .description('Compile declarative attention specs to WGSL and CUDA kernels, verified against a float64 reference interpreter.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('check')
    .description('parse and check specs, reporting every diagnostic')
    .argument('<files...>', 'spec files (.attn, .attn.json) or directories')
    .option('--dims <list>', 'override declared dims, e.g. K=16,V=16')
    .option('--json', 'print diagnostics as JSON')
    .addHelpText('after', '\nExamples:\n  attnc check stdlib/\n  attnc check my_gla.attn --json\n  attnc check stdlib/gla.attn --dims K=16,V=16')
    .action((files: string[], o) => {
      process.exitCode = checkCommand(files, o);
    });

  program
    .command('fmt')
    .description('format specs in canonical layout (comments kept)')
    .argument('<files...>', 'spec files or directories')
    .option('--check', 'only report files that are not formatted (exit 1 if any)')
    .option('--stdout', 'print the formatted text instead of rewriting files')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  attnc fmt stdlib/\n  attnc fmt --check stdlib/')
    .action((files: string[], o) => {
      process.exitCode = fmtCommand(files, o);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? EXIT.ok);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    process.stderr.write(`attnc: internal error: ${(e as Error).stack ?? e}\n`);
    return 70;
  }
}
