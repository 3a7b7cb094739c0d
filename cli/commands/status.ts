import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import { action } from '../run.ts';

export function register(program: Command): void {
  program
    .command('status')
    .description('per cluster and backend: machine state, pgpool live state, in-flight actions, drift, last audit entries')
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG)')
    .option('--cluster <name>', 'one cluster (default: $PCPFLOW_CLUSTER, else all)')
    .option('--json', 'print JSON')
    .action(
      action(async (opts: { config?: string; cluster?: string; json?: boolean }) => {
        const [{ formatTimeline }, { createPcpOps }, { loadConfig }, { createRedis }, { clusterStatus }] = await Promise.all([
          import('../../audit/format.ts'),
          import('../../pcp/index.ts'),
          import('../../runtime/config.ts'),
          import('../../runtime/redis.ts'),
          import('../../workers/status.ts'),
        ]);
        const { config } = loadConfig(opts.config);
        const name = opts.cluster ?? process.env.PCPFLOW_CLUSTER;
        const clusters = name ? config.clusters.filter((c) => c.name === name) : config.clusters;
        if (clusters.length === 0) throw new InvalidInputError(`unknown cluster "${name?.slice(0, 64)}"`);
        const redis = createRedis(config.redis, 'producer');
        try {
          const all = [];
          for (const c of clusters) all.push(await clusterStatus(c, redis, config.redis.keyPrefix, createPcpOps(c)));
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
            return 0;
          }
          for (const s of all) {
            process.stdout.write(`== cluster ${s.cluster} (snapshot v${s.version ?? '-'}; pgpool ${s.pgpoolEndpoint ?? `unreachable: ${s.pgpoolError}`})\n`);
            // One column per pgpool when there are several (a watchdog cluster): its view and role.
            const several = s.pgpools.length > 1;
            if (several) {
              process.stdout.write(`pgpools: ${s.pgpools.map((p) => `${p.endpoint} ${p.reachable ? (p.watchdogRole ?? 'no watchdog') : 'UNREACHABLE'}`).join(', ')}; leader ${s.leader ?? 'none answering'}\n`);
            }
            const cols = several ? s.pgpools.map((p) => `${p.endpoint} (${p.reachable ? (p.watchdogRole ?? '-') : 'down'})`) : ['pgpool'];
            const widths = cols.map((c) => Math.max(20, c.length));
            process.stdout.write(`${'backend'.padEnd(22)} ${'machine'.padEnd(11)} ${cols.map((c, i) => c.padEnd(widths[i] ?? 20)).join(' ')} ${'in flight'.padEnd(22)} drift\n`);
            for (const b of s.backends) {
              const cells = several
                ? s.pgpools.map((p) => b.views[p.endpoint] ?? '?')
                : [b.pgpool ? `#${b.pgpool.nodeId} ${b.pgpool.status}/${b.pgpool.role}` : '-'];
              const pend = b.pending ? `${b.pending.type} ${b.pending.actionId.slice(-12)}` : '-';
              const drift = [b.drift, b.disagreement ? 'pgpools DISAGREE' : null].filter(Boolean).join('; ') || '-';
              process.stdout.write(`${b.address.padEnd(22)} ${(b.machine ?? '-').padEnd(11)} ${cells.map((c, i) => c.padEnd(widths[i] ?? 20)).join(' ')} ${pend.padEnd(22)} ${drift}\n`);
            }
            for (const w of s.warnings) process.stdout.write(`warning: ${w}\n`);
            process.stdout.write(`-- last audit entries\n${formatTimeline(s.lastAudit)}\n`);
          }
          return 0;
        } finally {
          redis.disconnect();
        }
      }),
    );
}
