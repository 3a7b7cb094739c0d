import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('simulate')
    .description('run a scenario file of hook calls or events through the decision core offline')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('simulate', 'issue 4'));
}
