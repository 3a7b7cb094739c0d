import { Command } from 'commander';
import { COMMANDS, commandNamed } from './commands/index.ts';

export const VERSION = '0.1.0';

function baseProgram(): Command {
  return new Command('pcpflow')
    .description('Keeps Pgpool-II in step with EDB Failover Manager: hooks → Redis → state machines → audited PCP actions')
    .version(VERSION)
    .showHelpAfterError()
    // Unknown subcommands and bad flags are invalid input: exit 2 like every other bad input.
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        process.exit(0);
      process.exit(2);
    });
}

/**
 * The program for this command line: the named subcommand's module fully registered, the others
 * as name and summary only (enough for the top-level help and the unknown-command error).
 */
export async function buildProgram(args: readonly string[] = []): Promise<Command> {
  const program = baseProgram();
  const named = commandNamed(args);
  for (const d of COMMANDS) {
    if (d === named) (await d.load()).register(program);
    else program.command(d.name).description(d.summary);
  }
  return program;
}

