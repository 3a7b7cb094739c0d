import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import { BackendResolutionError, resolveInCluster } from '../../contracts/backend-resolution.ts';
import type { ClusterConfig } from '../../contracts/config.ts';
// Light (zod and node:crypto only): the JSONL check runs without Redis or the workers.
import { describeProblem, verifyChain, type VerifyResult } from '../../audit/chain.ts';
import { AuditRecordSchema, type AuditRecord } from '../../contracts/audit.ts';
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
  file?: string;
}

/** Prints one cluster's verification; returns whether the chain holds. */
function printVerify(name: string, v: VerifyResult): boolean {
  const span = v.firstSeq === null || v.firstSeq === 1 ? '' : `, from seq ${v.firstSeq}`;
  const resets = v.resets.length ? `; the chain continues across ${v.resets.length} Redis loss(es) at seq ${v.resets.join(', ')} (reset records)` : '';
  if (v.ok) {
    process.stdout.write(`${name}: audit chain intact (${v.checked} records${span})${resets}\n`);
    return true;
  }
  const resetOnly = v.problems.every((p) => p.kind === 'reset' || p.kind === 'gap-at-start');
  process.stdout.write(`${name}: audit chain ${resetOnly ? 'RESET' : 'BROKEN'} (${v.problems.length} problem(s) in ${v.checked} records${span})${resets}\n`);
  for (const p of v.problems) process.stdout.write(`  ${describeProblem(p)}\n`);
  return false;
}

/**
 * `--verify --file audit.jsonl`: the JSONL copy on its own, without Redis. Records are ordered by
 * seq (several writers append to one file) and repeated lines dropped; a file started after the
 * chain began is not a gap, a reset record inside it is reported, not a break.
 */
function verifyFile(file: string, only: string | undefined): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`--file: cannot read ${file.slice(0, 200)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const byCluster = new Map<string, Array<{ streamId: string; record: AuditRecord | { error: string } }>>();
  const unreadable: Array<{ streamId: string; record: { error: string } }> = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `line ${i + 1}`;
    try {
      const r = AuditRecordSchema.safeParse(JSON.parse(line));
      if (!r.success) unreadable.push({ streamId: where, record: { error: r.error.issues[0]?.message ?? 'invalid' } });
      else if (!only || r.data.cluster === only) {
        const list = byCluster.get(r.data.cluster) ?? [];
        list.push({ streamId: where, record: r.data });
        byCluster.set(r.data.cluster, list);
      }
    } catch {
      unreadable.push({ streamId: where, record: { error: 'not JSON' } });
    }
  });
  let ok = unreadable.length === 0;
  for (const u of unreadable) process.stdout.write(`${file}: ${u.streamId} is not a valid audit record: ${u.record.error}\n`);
  if (byCluster.size === 0) process.stdout.write(`${file}: no audit records${only ? ` of cluster ${only}` : ''}\n`);
  for (const [cluster, list] of byCluster) {
    const seen = new Set<string>();
    const ordered = list
      .filter((e) => 'seq' in e.record)
      .sort((a, b) => ('seq' in a.record && 'seq' in b.record ? a.record.seq - b.record.seq : 0))
      .filter((e) => {
        const key = 'hash' in e.record ? `${e.record.seq} ${e.record.hash}` : e.streamId;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    ok = printVerify(`${cluster} (${file})`, verifyChain(ordered, { trimmed: true })) && ok;
  }
  return ok;
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
    .option('--file <jsonl>', 'with --verify: check a JSONL copy (audit.jsonlFile or an export) on its own, without Redis')
    .action(
      action(async (opts: AuditOpts) => {
        if (opts.file) {
          // The JSONL copy stands on its own: no config or Redis needed.
          if (!opts.verify) throw new InvalidInputError('--file goes with --verify');
          return verifyFile(opts.file, opts.cluster ?? process.env.PCPFLOW_CLUSTER) ? 0 : 1;
        }
        const [{ formatTimeline }, { AuditStore }, { loadConfig }, { openRedis }] = await Promise.all([
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
        const redis = await openRedis(config.redis);
        try {
          const store = new AuditStore(redis, config.redis.keyPrefix, { streamMaxLen: (n) => config.clusters.find((c) => c.name === n)?.audit.streamMaxLen ?? 0 });
          let broken = false;
          const exported: string[] = [];
          for (const c of clusters) {
            if (opts.verify) {
              if (!printVerify(c.name, await store.verify(c.name))) broken = true;
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
