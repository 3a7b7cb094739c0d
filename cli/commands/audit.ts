import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import { resolveInClusters } from '../../contracts/backend-resolution.ts';
// Light (zod and node:crypto only): the JSONL check runs without Redis or the workers.
import { describeProblem, type VerifyResult } from '../../audit/chain.ts';
import { verifyJsonl } from '../../audit/jsonl-verify.ts';
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

/** `--verify --file audit.jsonl`: the JSONL copy on its own, without Redis (audit/jsonl-verify.ts). */
function verifyFile(file: string, only: string | undefined): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`--file: cannot read ${file.slice(0, 200)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const { unreadable, clusters } = verifyJsonl(text, only);
  let ok = unreadable.length === 0;
  for (const u of unreadable) process.stdout.write(`${file}: ${u.where} is not a valid audit record: ${u.error}\n`);
  if (clusters.size === 0) process.stdout.write(`${file}: no audit records${only ? ` of cluster ${only}` : ''}\n`);
  for (const [cluster, result] of clusters) ok = printVerify(`${cluster} (${file})`, result) && ok;
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
        const backendOf = resolveInClusters(clusters, opts.backend, '--backend');
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
