import type { Command } from 'commander';
import { addressArgument } from '../../contracts/address.ts';
import { action } from '../run.ts';
import { options, submit, type Opts } from './maintenance.ts';

/**
 * `pcpflow attention clear ADDR`: an operator event, decided and audited like every other (who
 * ran it, --reason). Exit 0 done, 1 refused or not decided in time, 2 no such backend, 4 Redis
 * unreachable.
 */
export function register(program: Command): void {
  const a = program.command('attention').description('backends whose action gave up');
  options(a.command('clear <address>'))
    .description("the cause is fixed: take the intent of the action that gave up back as the target (no action now); the reconciler repairs any difference")
    .action(
      action(async (addressText: string, opts: Opts) => {
        const address = addressArgument(addressText);
        return submit(opts, 'attention clear', address, (user, backend) => ({ type: 'operator.attention-clear', backend: backend ?? address, user, reason: opts.reason }), ['attention', 'clear', address]);
      }),
    );
}
