import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('audit')
    .description('query the audit trail (--cluster --backend --since --json), verify its hash chain, export it')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('audit', 'issue 6'));
}
