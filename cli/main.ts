import { Command } from 'commander';
import { register as audit } from './commands/audit.ts';
import { register as config } from './commands/config.ts';
import { register as consoleCmd } from './commands/console.ts';
import { register as demo } from './commands/demo.ts';
import { register as lab } from './commands/lab.ts';
import { register as maintenance } from './commands/maintenance.ts';
import { register as outbox } from './commands/outbox.ts';
import { register as pcp } from './commands/pcp.ts';
import { register as replay } from './commands/replay.ts';
import { register as simulate } from './commands/simulate.ts';
import { register as status } from './commands/status.ts';
import { register as viz } from './commands/viz.ts';
import { register as worker } from './commands/worker.ts';
import { reportAndExit } from './run.ts';

export function buildProgram(): Command {
  const program = new Command('pcpflow')
    .description('Keeps Pgpool-II in step with EDB Failover Manager: hooks → Redis → state machines → audited PCP actions')
    .version('0.1.0')
    .showHelpAfterError()
    // Unknown subcommands and bad flags are invalid input: exit 2 like every other bad input.
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        process.exit(0);
      process.exit(2);
    });
  for (const reg of [worker, status, audit, viz, simulate, replay, lab, demo, outbox, config, pcp, maintenance, consoleCmd]) reg(program);
  return program;
}

/**
 * Output into a closed pipe (`pcpflow audit | head -1`) ends the command quietly, as a Unix tool
 * does, instead of an unhandled EPIPE stack trace.
 */
export function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
}

export async function main(argv: string[] = process.argv): Promise<void> {
  quietOnClosedPipe();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    reportAndExit(err);
  }
}
