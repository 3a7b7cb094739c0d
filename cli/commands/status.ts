import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import type { ClusterStatus } from '../../workers/status.ts';
import { action } from '../run.ts';

function print(s: ClusterStatus, formatTimeline: (r: ClusterStatus['lastAudit']) => string): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`== cluster ${s.cluster} (snapshot v${s.version ?? '-'}; pgpool ${s.pgpoolEndpoint ?? `unreachable: ${s.pgpoolError}`})`);
  // Every PCP endpoint, asked on its own: one down behind a VIP that answers still shows.
  out(`pgpools: ${s.pgpools.map((p) => `${p.endpoint} ${p.reachable ? (p.watchdogRole ?? 'reachable') : `UNREACHABLE (${p.error ?? '?'})`}`).join(', ')}${s.pgpools.length > 1 ? `; leader ${s.leader ?? 'none answering'}` : ''}`);
  // One column per pgpool when there are several (a watchdog cluster): its view and role.
  const several = s.pgpools.length > 1;
  const cols = several ? s.pgpools.map((p) => `${p.endpoint} (${p.reachable ? (p.watchdogRole ?? '-') : 'down'})`) : ['pgpool'];
  const widths = cols.map((c) => Math.max(20, c.length));
  out(`${'backend'.padEnd(22)} ${'machine'.padEnd(11)} ${cols.map((c, i) => c.padEnd(widths[i] ?? 20)).join(' ')} ${'lag'.padEnd(12)} ${'in flight'.padEnd(22)} drift`);
  for (const b of s.backends) {
    const cells = several ? s.pgpools.map((p) => b.views[p.endpoint] ?? '?') : [b.pgpool ? `#${b.pgpool.nodeId} ${b.pgpool.status}/${b.pgpool.role}` : '-'];
    const pend = b.pending ? `${b.pending.type} ${b.pending.actionId.slice(-12)}` : '-';
    const drift = [b.drift, b.disagreement ? 'pgpools DISAGREE' : null].filter(Boolean).join('; ') || '-';
    const machine = `${b.machine ?? '-'}${b.maintenance ? '*' : ''}`;
    out(`${b.address.padEnd(22)} ${machine.padEnd(11)} ${cells.map((c, i) => c.padEnd(widths[i] ?? 20)).join(' ')} ${(b.lag ?? '-').padEnd(12)} ${pend.padEnd(22)} ${drift}`);
    if (b.maintenance) out(`  * in maintenance since ${b.maintenance.since} by ${b.maintenance.by}${b.maintenance.reason ? `: ${b.maintenance.reason}` : ''} (held; drift is reported, not repaired)`);
    if (b.attention) out(`  ! attention: ${b.attention}`);
  }
  for (const w of s.warnings) out(`warning: ${w}`);
  out(`-- last audit entries\n${formatTimeline(s.lastAudit)}`);
}

export function register(program: Command): void {
  program
    .command('status')
    .description('per cluster and backend: machine state, pgpool live state, lag, in-flight actions, drift, maintenance, endpoints, last audit entries')
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG)')
    .option('--cluster <name>', 'one cluster (default: $PCPFLOW_CLUSTER, else all)')
    .option('--json', 'print JSON')
    .option('--check', 'for monitoring: one line; exit 0 all in step, 1 drift, attention or pgpool unreachable, 4 Redis unreachable')
    .action(action(status));
}

interface StatusOpts {
  config?: string;
  cluster?: string;
  json?: boolean;
  check?: boolean;
}

/**
 * `pcpflow status`: run by monitoring (`--check`) and DBAs, so cli/main.ts runs its plain
 * command lines without commander (cli/fast-argv.ts); commander registers the same function.
 */
async function status(opts: StatusOpts): Promise<number> {
  const [{ formatTimeline }, { createPcpOps }, { loadConfig }, { openRedisReads }, { checkLine, clusterStatus }] = await Promise.all([
    import('../../audit/format.ts'),
    import('../../pcp/index.ts'),
    import('../../runtime/config.ts'),
    // A few reads: the RESP client rather than ioredis (~45 ms of start-up).
    import('../resp-reads.ts'),
    import('../../workers/status.ts'),
  ]);
  const { config } = loadConfig(opts.config);
  const name = opts.cluster ?? process.env.PCPFLOW_CLUSTER;
  const clusters = name ? config.clusters.filter((c) => c.name === name) : config.clusters;
  if (clusters.length === 0) throw new InvalidInputError(`unknown cluster "${name?.slice(0, 64)}"`);
  const redis = await openRedisReads(config.redis);
  try {
    const all = await Promise.all(clusters.map((c) => clusterStatus(c, redis, config.redis.keyPrefix, createPcpOps(c))));
    if (opts.check) {
      const verdict = checkLine(all);
      process.stdout.write(`${verdict.line}\n`);
      return verdict.ok ? 0 : 1;
    }
    if (opts.json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    else for (const s of all) print(s, formatTimeline);
    return 0;
  } finally {
    redis.close();
  }
}

/** The fast path's entry: the same action wrapper (exit codes, error lines) as under commander. */
export const runStatus = (opts: StatusOpts): Promise<void> => action(status)(opts);
