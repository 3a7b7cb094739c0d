import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('console')
    .description('serve the read-only audit console in a browser')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('console', 'issue 8'));
}
