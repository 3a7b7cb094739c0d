import type { Command } from 'commander';
import { notBuilt } from './not-built.ts';

export function register(program: Command): void {
  program
    .command('lab')
    .description('a real local cluster on loopback: PostgreSQL primary + 2 standbys, pgpool-II, Redis (up|down|status|env|drill)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(notBuilt('lab', 'issue 2'));
}
