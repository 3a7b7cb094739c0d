import { createHash } from 'node:crypto';
import type { AuditBody } from '../contracts/audit.ts';

/**
 * JSON with object keys sorted at every level, so the hash of a record does not depend on the
 * order in which a writer happened to build it, and anyone can recompute it with a few lines.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** sha256 over (seq, prevHash, body): editing any field, or moving a record, changes it. */
export function recordHash(seq: number, prevHash: string, body: AuditBody): string {
  return createHash('sha256').update(canonicalJson({ seq, prevHash, body })).digest('hex');
}
