import { appendFile } from 'node:fs/promises';
import type { AuditRecord } from '../contracts/audit.ts';

/**
 * Optional second copy of the audit trail in a local JSONL file (for log shippers and for
 * auditors who want a file). Written after the Redis commit: Redis stays the source of truth,
 * and a failed file write is logged by the caller, never allowed to undo a decision.
 */
export async function appendJsonl(file: string, records: readonly AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  await appendFile(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n', { mode: 0o640 });
}
