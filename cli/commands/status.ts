import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('status')
    .description('per cluster and backend: machine state, pgpool live state, in-flight actions, drift, last audit entries')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('status', 'issue 6'));
}
