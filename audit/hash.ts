import { createHash } from 'node:crypto';
import type { AuditBody } from '../contracts/audit.ts';

/**
 * JSON with object keys sorted at every level, so the hash of a record does not depend on the
 * order in which a writer happened to build it, and anyone can recompute it with a few lines.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
    return `${out}]`;
  }
  // Built by concatenation, keys sorted by UTF-16 code units (sort()'s default order, the same as
  // comparing with <): the hash of every audit record goes through here, a few % of a busy worker.
  const obj = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

/** sha256 over (seq, prevHash, body): editing any field, or moving a record, changes it. */
export function recordHash(seq: number, prevHash: string, body: AuditBody): string {
  return createHash('sha256').update(canonicalJson({ seq, prevHash, body })).digest('hex');
}
