import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('outbox')
    .description('deliver events the hooks spooled locally while Redis was unreachable (outbox flush)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('outbox', 'issue 5'));
}
