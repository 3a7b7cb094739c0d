import { AuditRecordSchema, type AuditRecord } from '../contracts/audit.ts';
import { keys } from '../contracts/keys.ts';
import type { RedisReads } from '../runtime/redis-reads.ts';

/**
 * Reading a cluster's audit stream, apart from AuditStore's writing: `pcpflow status` reads the
 * last entries over the commands' RESP client, without ioredis or the append script.
 */
export interface StoredRecord {
  streamId: string;
  record: AuditRecord;
}

export interface RawAuditEntry {
  streamId: string;
  record: AuditRecord | { error: string };
}

export interface AuditQuery {
  backend?: string;
  since?: Date;
  limit?: number;
}

export async function readAuditStream(redis: Pick<RedisReads, 'xrange'>, prefix: string, cluster: string, start = '-', end = '+'): Promise<RawAuditEntry[]> {
  const out: RawAuditEntry[] = [];
  let from = start;
  for (;;) {
    const batch = await redis.xrange(keys.audit(prefix, cluster), from, end, 'COUNT', 1000);
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

export async function queryAudit(redis: Pick<RedisReads, 'xrange'>, prefix: string, cluster: string, q: AuditQuery = {}): Promise<StoredRecord[]> {
  const start = q.since ? String(q.since.getTime()) : '-';
  const all = (await readAuditStream(redis, prefix, cluster, start)).filter((e): e is StoredRecord => !('error' in e.record));
  const filtered = q.backend ? all.filter((e) => e.record.backend === q.backend || e.record.actions?.some((a) => a.backend === q.backend)) : all;
  return q.limit ? filtered.slice(-q.limit) : filtered;
}
