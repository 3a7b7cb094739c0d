import { open } from 'node:fs/promises';
import { AuditRecordSchema, type AuditBody } from '../contracts/audit.ts';
import type { ChainHead } from './chain.ts';

/**
 * The chain's anchor outside Redis: the newest head a worker has seen (in memory) or that its
 * JSONL copy ends with (across restarts). A Redis that keeps nothing on disk comes back empty
 * after a restart; without an anchor the chain would start again at seq 1 and `audit --verify`
 * would call it intact. With one, the next record links onto the anchor instead, so the records
 * lost are a named gap, and a reset record says what happened.
 */

/** `to` of the audit record that marks where a chain continues after Redis lost records. */
export const CHAIN_RESET = 'chain-reset';

const TAIL_BYTES = 256 * 1024;

/** The newest record of `cluster` in a JSONL file (its last 256 KiB), as a chain head; null if none. */
export async function jsonlHead(file: string, cluster: string): Promise<ChainHead | null> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return null;
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    let best: ChainHead | null = null;
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const r = AuditRecordSchema.safeParse(JSON.parse(line));
        if (r.success && r.data.cluster === cluster && (!best || r.data.seq > best.seq)) best = { seq: r.data.seq, hash: r.data.hash };
      } catch {
        // A torn first line (the tail cut it) or a foreign line: skip it.
      }
    }
    return best;
  } finally {
    await fh.close();
  }
}

export function resetBody(cluster: string, redisHead: ChainHead, anchor: ChainHead, source: string, at: Date): AuditBody {
  const found = redisHead.seq === 0 ? 'has no audit records at all' : `ends at seq ${redisHead.seq}`;
  return {
    kind: 'decision',
    cluster,
    at: at.toISOString(),
    backend: null,
    to: CHAIN_RESET,
    note:
      `The audit chain of cluster ${cluster} in Redis ${found}, but this worker had seen it reach seq ${anchor.seq} (${source}): ` +
      `Redis lost records (restarted without persistence, flushed, or failed over to a replica that was behind). ` +
      `The chain continues from seq ${anchor.seq} so the loss is a named gap; the JSONL copies hold what Redis lost.`,
  };
}
