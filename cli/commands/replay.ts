import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('replay')
    .description('feed recorded audit events back through the decision core offline and compare decisions')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('replay', 'issue 4'));
}
