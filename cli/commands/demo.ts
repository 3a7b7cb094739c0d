import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('demo')
    .description('set up a local lab, run the failover drill with two workers, print the audit timeline and the report')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('demo', 'issue 7'));
}
