import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('viz')
    .description('draw the backend state machine (mermaid, dot, svg, html), optionally with a backend path from history')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('viz', 'issue 4'));
}
