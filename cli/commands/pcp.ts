import type { Command } from 'commander';
import { formatAddress, printable } from '../../contracts/address-syntax.ts';
import { addressArgument } from '../../contracts/address.ts';
import { InvalidInputError } from '../../contracts/errors.ts';
import { loadConfig, selectCluster } from '../../runtime/config.ts';
import { callBudgetMs, findNode, opsOver, watchdogView, type EnsureOutcome, type NodeInfo } from '../../pcp/index.ts';
import { action } from '../run.ts';
import { CHECK_PRIMARY_SUMMARY, checkPrimary } from './check-primary.ts';
import { addressArg, nodeJson, pcpContext, type CommonOpts } from './pcp-context.ts';

/**
 * Operator commands over PCP, replacing pgpool_backend.sh: the same operations the executor runs
 * (read, act only when needed, verify by polling), printed for a human or as JSON.
 * The address argument is resolved against the config first, by the rule the hooks use: an
 * address no configured backend has, or a bare host several share, is bad input (exit 2).
 * check-primary exit codes: 0 primary, 1 standby, 2 bad input (or not a configured backend),
 * 3 pgpool has no such backend, 4 pgpool could not be asked.
 */

function verifyMsOpt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,7}$/.test(text) || Number(text) <= 0) throw new InvalidInputError(`--verify-ms must be a positive whole number of milliseconds, not "${printable(text)}"`);
  return Number(text);
}

interface OperatorOpts {
  reason: string;
  waitMs?: string;
  direct?: boolean;
}

/**
 * The command as an operator event: decided like EFM's, executed and confirmed by the workers,
 * audited with who ran it and why. Exit 0 done (or nothing to do), 1 failed or not finished in
 * time, 4 pgpool or Redis unreachable (then nothing is published).
 */
async function audited(verb: 'attach' | 'detach' | 'promote', addressText: string, opts: CommonOpts & OperatorOpts): Promise<number> {
  const [{ submitPcpCommand }, { reportOutcome }] = await Promise.all([import('../../workers/operator-command.ts'), import('../operator-report.ts')]);
  const address = addressArgument(addressText);
  const { config } = loadConfig(opts.config);
  const cluster = selectCluster(config, opts.cluster);
  const waitMs = opts.waitMs === undefined ? 120_000 : verifyMsOpt(opts.waitMs) ?? 120_000;
  const r = await submitPcpCommand(config, cluster, verb, address, { reason: opts.reason, waitMs });
  if (r.kind === 'pgpool-unreachable') {
    process.stderr.write(`pcpflow: pgpool unreachable (${r.error}); nothing was published\n`);
    return 4;
  }
  return reportOutcome(`${verb} ${r.subject}`, r.eventId, r.outcome, opts.json);
}

function common(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG or /etc/pcpflow/pcpflow.yaml)')
    .option('--cluster <name>', 'cluster to use (default: $PCPFLOW_CLUSTER, or the only one)')
    .option('--json', 'print JSON');
}

function table(nodes: NodeInfo[]): string {
  const head = ['id', 'address', 'status', 'role', 'weight', 'pg_status', 'pg_role', 'delay', 'repl_state', 'sync_state', 'last_change'];
  const rows = nodes.map((n) => [
    String(n.id),
    n.host === '' ? '-' : formatAddress({ host: n.host, port: n.port }),
    n.quarantine && n.status === 'down' ? 'down (quarantine)' : n.status,
    n.role,
    n.weight.toFixed(3),
    n.backendStatus ?? '-',
    n.backendRole ?? '-',
    n.replicationDelay === undefined ? '-' : `${n.replicationDelay}${n.replicationDelayUnit === 'microseconds' ? 'us' : ''}`,
    n.replicationState || '-',
    n.replicationSyncState || '-',
    n.lastStatusChange ?? '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

function printOutcome(verb: string, address: string, o: EnsureOutcome, json: boolean | undefined): number {
  if (json) process.stdout.write(JSON.stringify({ action: verb, address, ...o }) + '\n');
  else if (o.result === 'failed') process.stderr.write(`pcpflow: ${verb} ${address} failed: ${o.reason ?? 'unknown reason'}\n`);
  else
    process.stdout.write(
      `${address} (node ${o.nodeId ?? '?'}): ${o.result === 'already' ? `already ${verb === 'promote' ? 'primary' : verb + 'ed'}` : `${verb}ed, confirmed`} via ${o.endpoint ?? '?'} in ${o.durationMs} ms\n`,
    );
  if (o.result !== 'failed') return 0;
  // The CLI resolved the address first, so a non-retryable failure here is bad input.
  return o.retryable ? 1 : 2;
}

export function register(program: Command): void {
  const pcp = program
    .command('pcp')
    .description('operator commands over PCP: nodes, attach, detach, promote, check-primary, watchdog');

  common(pcp.command('nodes').description("pgpool's backends: id, address, status, role and what this pgpool version reports")).action(
    action(async (opts: CommonOpts) => {
      const { cluster, driver } = pcpContext(opts);
      const a = await driver.nodes({ deadlineMs: callBudgetMs(cluster) });
      if (opts.json) process.stdout.write(JSON.stringify(a.value.nodes.map(nodeJson), null, 2) + '\n');
      else process.stdout.write(table(a.value.nodes));
      return 0;
    }),
  );

  const verbs = [
    ['attach', 'attach a backend (no-op when already up); waits until pgpool shows it up or waiting'],
    ['detach', 'detach a backend (no-op when already down); waits until pgpool shows it down'],
    ['promote', "make a backend pgpool's primary without switchover (attaches it first if down; pgpool marks every other node down)"],
  ] as const;
  for (const [verb, description] of verbs) {
    common(pcp.command(`${verb} <address>`).description(`${description}; through pcpflow's audited path unless --direct`))
      .option('--reason <text>', 'why, for the audit trail', '')
      .option('--wait-ms <ms>', 'how long to wait for the outcome (default 120000)')
      .option('--direct', "send the PCP command straight to pgpool, unaudited; the reconciler then restores pcpflow's intended state")
      .option('--verify-ms <ms>', 'with --direct: how long to wait for pgpool to show the change (default: timeouts.verifyMs)')
      .action(
        action(async (addressText: string, opts: CommonOpts & OperatorOpts) => {
          if (!opts.direct) return audited(verb, addressText, opts);
          const verifyMs = verifyMsOpt(opts.verifyMs);
          const { cluster, driver } = pcpContext(opts);
          const address = addressArg(cluster, addressText);
          await findNode(cluster, driver, address);
          const ops = opsOver(cluster, driver);
          const run = verb === 'attach' ? ops.ensureAttached : verb === 'detach' ? ops.ensureDetached : ops.ensurePrimary;
          const code = printOutcome(verb, address, await run(address, verifyMs === undefined ? {} : { verifyMs }), opts.json);
          process.stderr.write(
            `pcpflow: --direct: pgpool was changed without pcpflow; nothing was audited, and the reconciler restores pcpflow's intended state within ${cluster.reconcileIntervalMs} ms ` +
              `(run without --direct to change the intent, or \`pcpflow maintenance on ${address}\` first to keep pcpflow's hands off)\n`,
          );
          return code;
        }),
      );
  }

  common(pcp.command('check-primary <address>').description(CHECK_PRIMARY_SUMMARY)).action(action(checkPrimary));

  common(pcp.command('watchdog').description("pgpool's watchdog cluster as every configured pgpool sees it: leader, quorum, members; exit 1 when no pgpool answers")).action(
    action(async (opts: CommonOpts) => {
      const { cluster, driver } = pcpContext(opts);
      const view = await watchdogView(driver, callBudgetMs(cluster));
      const { answers, answered } = view;
      if (opts.json) {
        process.stdout.write(JSON.stringify({ leader: view.leader, agree: view.agree, pgpools: view.pgpools }, null, 2) + '\n');
        return answered ? 0 : 1;
      }
      const quorum: Record<string, string> = { '1': 'quorum exists', '0': 'quorum on the edge', '-1': 'quorum absent', '-2': 'no leader' };
      if (answered) process.stdout.write(`leader ${view.leader ?? (view.leaders.length > 1 ? `DISPUTED (${view.leaders.join(' vs ')})` : 'none')}\n`);
      for (const a of answers) {
        const w = a.value;
        if (!w) {
          // Unreachable, or pgpool's own refusal (e.g. "watchdog is not enabled"): said on stderr.
          process.stderr.write(`pcpflow: ${a.endpoint}: ${a.error ?? 'no answer'}\n`);
          continue;
        }
        process.stdout.write(
          `${a.endpoint}: ${w.WatchdogNodes[0]?.StateName ?? '?'}; sees leader ${w.leaderNodeName || '-'} (${w.leaderHostName || '-'}), ${quorum[String(w.QuorumStatus)] ?? `quorum status ${w.QuorumStatus}`}, ${w.AliveNodeCount} of ${w.RemoteNodeCount} remote node(s) alive, escalated: ${w.Escalated === 1 ? 'yes' : 'no'}\n`,
        );
        for (const n of w.WatchdogNodes) process.stdout.write(`  ${n.NodeName}  ${n.HostName}:${n.PgpoolPort ?? '?'}  ${n.StateName}${n.MembershipString ? `  ${n.MembershipString}` : ''}\n`);
      }
      return answered ? 0 : 1;
    }),
  );
}
