import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('worker')
    .description('run one fleet member: decider, executor and reconciler roles, with /healthz, /readyz and /metrics')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('worker', 'issue 6'));
}
