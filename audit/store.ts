import { AuditRecordSchema, type AuditBody, type AuditRecord } from '../contracts/audit.ts';
import { keys } from '../contracts/keys.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { APPEND_AUDIT_LUA } from '../workers/lua/scripts.ts';
import { runScript } from '../workers/lua/run-script.ts';
import { formatHead, linkRecords, parseHead, verifyChain, type ChainHead, type VerifyResult } from './chain.ts';
import { AuditWriteError } from './errors/audit-write-error.ts';
import { appendJsonl } from './jsonl-sink.ts';

export interface StoredRecord {
  streamId: string;
  record: AuditRecord;
}

export interface AuditQuery {
  backend?: string;
  since?: Date;
  limit?: number;
}

/**
 * The audit trail of each cluster: a Redis stream of hash-chained records. Appends are a
 * compare-and-set on the chain head (Lua), so concurrent writers (decider, executors on several
 * hosts) interleave without ever forking the chain.
 */
export class AuditStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly opts: { streamMaxLen?: (cluster: string) => number; jsonlFile?: (cluster: string) => string | undefined } = {},
  ) {}

  async head(cluster: string): Promise<ChainHead> {
    return parseHead(await this.redis.get(keys.auditHead(this.prefix, cluster)));
  }

  async append(cluster: string, bodies: readonly AuditBody[]): Promise<AuditRecord[]> {
    if (bodies.length === 0) return [];
    for (let tries = 0; tries < 50; tries++) {
      const headText = await this.redis.get(keys.auditHead(this.prefix, cluster));
      const { records, head } = linkRecords(parseHead(headText), bodies);
      const ok = await runScript(
        this.redis,
        APPEND_AUDIT_LUA,
        [keys.audit(this.prefix, cluster), keys.auditHead(this.prefix, cluster)],
        [headText ?? '', formatHead(head), this.opts.streamMaxLen?.(cluster) ?? 0, keys.auditChannel(this.prefix), cluster, ...records.map((r) => JSON.stringify(r))],
      );
      if (ok === 1) {
        await this.mirror(cluster, records);
        return records;
      }
    }
    throw new AuditWriteError(`the audit chain of cluster ${cluster} kept changing under 50 append attempts; is a writer looping?`);
  }

  /** Copies committed records to the cluster's JSONL file, when one is configured. */
  async mirror(cluster: string, records: readonly AuditRecord[]): Promise<void> {
    const file = this.opts.jsonlFile?.(cluster);
    if (file) await appendJsonl(file, records);
  }

  async readRaw(cluster: string, start = '-', end = '+'): Promise<Array<{ streamId: string; record: AuditRecord | { error: string } }>> {
    const out: Array<{ streamId: string; record: AuditRecord | { error: string } }> = [];
    let from = start;
    for (;;) {
      const batch = await this.redis.xrange(keys.audit(this.prefix, cluster), from, end, 'COUNT', 1000);
      for (const [id, fields] of batch) {
        const text = fields[fields.indexOf('r') + 1];
        let record: AuditRecord | { error: string };
        try {
          const parsed = AuditRecordSchema.safeParse(JSON.parse(text ?? ''));
          record = parsed.success ? parsed.data : { error: parsed.error.issues[0]?.message ?? 'invalid' };
        } catch {
          record = { error: 'not JSON' };
        }
        out.push({ streamId: id, record });
      }
      if (batch.length < 1000) break;
      from = `(${batch[batch.length - 1]?.[0]}`;
    }
    return out;
  }

  async query(cluster: string, q: AuditQuery = {}): Promise<StoredRecord[]> {
    const start = q.since ? String(q.since.getTime()) : '-';
    const all = (await this.readRaw(cluster, start)).filter((e): e is StoredRecord => !('error' in e.record));
    const filtered = q.backend ? all.filter((e) => e.record.backend === q.backend || e.record.actions?.some((a) => a.backend === q.backend)) : all;
    return q.limit ? filtered.slice(-q.limit) : filtered;
  }

  async verify(cluster: string): Promise<VerifyResult> {
    return verifyChain(await this.readRaw(cluster));
  }
}
