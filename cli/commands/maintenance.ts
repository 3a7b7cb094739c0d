import type { Command } from 'commander';
import { addressArgument, printable } from '../../contracts/address.ts';
import { InvalidInputError } from '../../contracts/errors.ts';
import type { OperatorEventInput } from '../../workers/operator.ts';
import { action } from '../run.ts';

export interface Opts {
  config?: string;
  cluster?: string;
  reason: string;
  all?: boolean;
  json?: boolean;
  waitMs: string;
}

export async function submit(opts: Opts, what: string, address: string | null, input: (user: string, backend: string | null) => OperatorEventInput, argv: string[]): Promise<number> {
  const [{ loadConfig, selectCluster }, { submitOperatorEvent }, { reportOutcome }] = await Promise.all([
    import('../../runtime/config.ts'),
    import('../../workers/operator-command.ts'),
    import('../operator-report.ts'),
  ]);
  const { config } = loadConfig(opts.config);
  const cluster = selectCluster(config, opts.cluster);
  const waitMs = Number(opts.waitMs);
  if (!Number.isInteger(waitMs) || waitMs <= 0) throw new InvalidInputError(`--wait-ms: "${printable(opts.waitMs)}" is not a positive number of milliseconds`);
  const r = await submitOperatorEvent(config, cluster, address, input, argv, waitMs);
  const code = reportOutcome(`${what} ${r.subject}`, r.eventId, r.outcome, opts.json);
  // Not a backend of the cluster: bad input (exit 2), audited as rejected by the decider.
  return r.configured ? code : 2;
}

export function options(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG)')
    .option('--cluster <name>', 'cluster (default: $PCPFLOW_CLUSTER, or the only one)')
    .option('--reason <text>', 'why, for the audit trail', '')
    .option('--wait-ms <ms>', 'how long to wait for the decision', '30000')
    .option('--json', 'print JSON');
}

/**
 * `pcpflow maintenance on|off ADDR|--all`: operator events,
 * decided and audited like every other event (who ran it, --reason). Exit 0 done, 1 refused or
 * not decided in time, 4 Redis unreachable.
 */
export function register(program: Command): void {
  const m = program
    .command('maintenance')
    .description('hold a backend (or the whole cluster) where it is: no automatic action until maintenance ends');
  for (const on of [true, false]) {
    options(m.command(`${on ? 'on' : 'off'} [address]`))
      .description(
        on
          ? "start maintenance: pcpflow holds the backend's state, keeps EFM's requests for it, reports drift without repairing it"
          : 'end maintenance: the request EFM made meanwhile (the latest) is decided now; the reconciler repairs what remains',
      )
      .option('--all', 'every backend of the cluster')
      .action(
        action(async (addressText: string | undefined, opts: Opts) => {
          if ((addressText === undefined) === !opts.all) throw new InvalidInputError('give one backend address or --all');
          const address = addressText === undefined ? null : addressArgument(addressText);
          return submit(opts, `maintenance ${on ? 'on' : 'off'}`, address, (user, backend) => ({ type: 'operator.maintenance', on, all: opts.all === true, backend, user, reason: opts.reason }), ['maintenance', on ? 'on' : 'off', address ?? '--all']);
        }),
      );
  }
}
