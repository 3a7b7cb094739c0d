import { AuditRecordSchema, type AuditRecord } from '../contracts/audit.ts';
import { verifyChain, type VerifyResult } from './chain.ts';

/**
 * The chain check of a JSONL copy (audit.jsonlFile or an export) on its own, without Redis.
 * Records are ordered by seq (several writers append to one file) and repeated lines dropped; a
 * file started after the chain began is not a gap, a reset record inside it is reported, not a
 * break. Light on purpose (zod and node:crypto only): `pcpflow audit --verify --file` loads no
 * Redis client.
 */
export interface JsonlVerification {
  /** Lines that are not audit records, with the line (`line 3`) and why. */
  unreadable: Array<{ where: string; error: string }>;
  /** One chain verification per cluster found (only `only`, when given). */
  clusters: Map<string, VerifyResult>;
}

export function verifyJsonl(text: string, only: string | undefined): JsonlVerification {
  const byCluster = new Map<string, Array<{ streamId: string; record: AuditRecord }>>();
  const unreadable: JsonlVerification['unreadable'] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `line ${i + 1}`;
    try {
      const r = AuditRecordSchema.safeParse(JSON.parse(line));
      if (!r.success) unreadable.push({ where, error: r.error.issues[0]?.message ?? 'invalid' });
      else if (!only || r.data.cluster === only) {
        const list = byCluster.get(r.data.cluster) ?? [];
        list.push({ streamId: where, record: r.data });
        byCluster.set(r.data.cluster, list);
      }
    } catch {
      unreadable.push({ where, error: 'not JSON' });
    }
  });
  const clusters = new Map<string, VerifyResult>();
  for (const [cluster, list] of byCluster) {
    const seen = new Set<string>();
    const ordered = list
      .sort((a, b) => a.record.seq - b.record.seq)
      .filter((e) => {
        const key = `${e.record.seq} ${e.record.hash}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    clusters.set(cluster, verifyChain(ordered, { trimmed: true }));
  }
  return { unreadable, clusters };
}
