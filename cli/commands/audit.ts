import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import { BackendResolutionError, resolveInCluster } from '../../contracts/backend-resolution.ts';
import type { ClusterConfig } from '../../contracts/config.ts';
import { action } from '../run.ts';
import { registerReport } from './audit-report.ts';

interface AuditOpts {
  config?: string;
  cluster?: string;
  backend?: string;
  since?: string;
  json?: boolean;
  verify?: boolean;
  export?: string;
  limit?: string;
}

/** `--since 15m`, `2h`, `3d` or an ISO time, between 1970 and 9999 (audit ids are ms since 1970). */
export function parseSince(text: string, now: Date): Date {
  const rel = /^(\d+)([smhd])$/.exec(text);
  let d: Date;
  if (rel) {
    const mult = { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    d = new Date(now.getTime() - Number(rel[1]) * mult);
  } else {
    d = new Date(text);
  }
  if (Number.isNaN(d.getTime())) throw new InvalidInputError(`--since: "${text.slice(0, 40)}" is neither a duration (15m, 2h, 3d) nor an ISO time`);
  if (d.getTime() < 0 || d.getTime() > Date.UTC(9999, 11, 31))
    throw new InvalidInputError(`--since: "${text.slice(0, 40)}" is out of range (${rel ? 'it reaches back before 1970' : 'give a time between 1970 and 9999'})`);
  return d;
}

export function register(program: Command): void {
  const audit = program
    .command('audit')
    .description('query the audit trail (--cluster --backend --since --json), verify its hash chain, export it')
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG)')
    .option('--cluster <name>', 'one cluster (default: $PCPFLOW_CLUSTER, else all)')
    .option('--backend <address>', 'only records about this backend (host or host:port)')
    .option('--since <when>', 'only records since a duration ago (15m, 2h, 3d) or an ISO time')
    .option('--limit <n>', 'only the newest n records')
    .option('--json', 'print JSON lines')
    .option('--verify', 'check the hash chain; exit 1 and name each broken record when it does not hold')
    .option('--export <file>', 'write the selected records to a JSONL file')
    .action(
      action(async (opts: AuditOpts) => {
        const [{ describeProblem }, { formatTimeline }, { AuditStore }, { loadConfig }, { createRedis }] = await Promise.all([
          import('../../audit/chain.ts'),
          import('../../audit/format.ts'),
          import('../../audit/store.ts'),
          import('../../runtime/config.ts'),
          import('../../runtime/redis.ts'),
        ]);
        const { config } = loadConfig(opts.config);
        const name = opts.cluster ?? process.env.PCPFLOW_CLUSTER;
        const clusters = name ? config.clusters.filter((c) => c.name === name) : config.clusters;
        if (clusters.length === 0) throw new InvalidInputError(`unknown cluster "${name?.slice(0, 64)}"`);
        const backendOf = backendFilter(clusters, opts.backend);
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new InvalidInputError('--limit: must be a positive integer');
        const redis = createRedis(config.redis, 'producer');
        try {
          const store = new AuditStore(redis, config.redis.keyPrefix);
          let broken = false;
          const exported: string[] = [];
          for (const c of clusters) {
            if (opts.verify) {
              const v = await store.verify(c.name);
              if (v.ok) process.stdout.write(`${c.name}: audit chain intact (${v.checked} records)\n`);
              else {
                broken = true;
                process.stdout.write(`${c.name}: audit chain BROKEN (${v.problems.length} problem(s) in ${v.checked} records)\n`);
                for (const p of v.problems) process.stdout.write(`  ${describeProblem(p)}\n`);
              }
              continue;
            }
            const backend = backendOf(c.name);
            const rows = await store.query(c.name, { backend, since: opts.since ? parseSince(opts.since, new Date()) : undefined, limit });
            const records = rows.map((r) => r.record);
            if (opts.export) exported.push(...records.map((r) => JSON.stringify(r)));
            else if (opts.json) for (const r of records) process.stdout.write(`${JSON.stringify(r)}\n`);
            else process.stdout.write(`== ${c.name} (${records.length} records)\n${formatTimeline(records)}\n`);
          }
          if (opts.export) {
            writeFileSync(opts.export, exported.join('\n') + (exported.length ? '\n' : ''));
            process.stdout.write(`wrote ${exported.length} records to ${opts.export}\n`);
          }
          return broken ? 1 : 0;
        } finally {
          redis.disconnect();
        }
      }),
    );
  registerReport(audit);
}

/**
 * `--backend` by the one resolution rule (contracts/backend-resolution.ts), per cluster: a cluster
 * where it names nothing is skipped, but an address no selected cluster has, or a bare host two
 * backends share, is exit 2 with the candidates or the configured backends.
 */
function backendFilter(clusters: readonly ClusterConfig[], text: string | undefined): (cluster: string) => string | undefined {
  if (text === undefined) return () => undefined;
  const found = new Map<string, string>();
  let firstError: unknown;
  for (const c of clusters) {
    try {
      found.set(c.name, resolveInCluster(c, text, '--backend'));
    } catch (err) {
      if (!(err instanceof BackendResolutionError)) throw err;
      // Ambiguous or invalid anywhere is a question only the DBA can answer.
      if (err.kind !== 'unknown' || clusters.length === 1) throw err;
      firstError ??= err;
    }
  }
  if (found.size === 0) throw firstError;
  return (cluster) => found.get(cluster) ?? NO_SUCH_BACKEND;
}

/** Matches no record: the cluster has no backend of that address. */
const NO_SUCH_BACKEND = '(none)';
