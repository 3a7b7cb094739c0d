import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('pcp')
    .description('operator commands over PCP: nodes, attach, detach, promote, check-primary, watchdog')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('pcp', 'issue 3'));
}
