import { GENESIS_HASH, type AuditBody, type AuditRecord } from '../contracts/audit.ts';
import { recordHash } from './hash.ts';

/** The last record of a cluster's chain: what the next record must link to. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export const GENESIS: ChainHead = { seq: 0, hash: GENESIS_HASH };

export function parseHead(text: string | null): ChainHead {
  if (!text) return GENESIS;
  const [seq, hash] = text.split(' ');
  return { seq: Number(seq), hash: hash ?? GENESIS_HASH };
}

export function formatHead(head: ChainHead): string {
  return `${head.seq} ${head.hash}`;
}

/** Links bodies onto the chain after `head`; pure, so writers can compute before they commit. */
export function linkRecords(head: ChainHead, bodies: readonly AuditBody[]): { records: AuditRecord[]; head: ChainHead } {
  const records: AuditRecord[] = [];
  let cur = head;
  for (const body of bodies) {
    const seq = cur.seq + 1;
    const hash = recordHash(seq, cur.hash, body);
    records.push({ ...body, seq, prevHash: cur.hash, hash });
    cur = { seq, hash };
  }
  return { records, head: cur };
}

export type VerifyProblem =
  | { kind: 'edited'; seq: number; streamId: string }
  | { kind: 'missing'; afterSeq: number; expectedSeq: number; streamId: string }
  | { kind: 'relinked'; seq: number; streamId: string }
  | { kind: 'unreadable'; streamId: string; reason: string };

export interface VerifyResult {
  ok: boolean;
  checked: number;
  problems: VerifyProblem[];
}

/**
 * Walks a chain in stream order. An edited record no longer matches its own hash; a deleted
 * one leaves a gap in seq and a prevHash that points at nothing; both are named by seq.
 */
export function verifyChain(entries: ReadonlyArray<{ streamId: string; record: AuditRecord | { error: string } }>): VerifyResult {
  const problems: VerifyProblem[] = [];
  let prev: ChainHead | null = null;
  let checked = 0;
  for (const { streamId, record } of entries) {
    if ('error' in record) {
      problems.push({ kind: 'unreadable', streamId, reason: record.error });
      continue;
    }
    checked++;
    const { seq, prevHash, hash, ...body } = record;
    if (recordHash(seq, prevHash, body) !== hash) problems.push({ kind: 'edited', seq, streamId });
    if (prev && seq !== prev.seq + 1) problems.push({ kind: 'missing', afterSeq: prev.seq, expectedSeq: prev.seq + 1, streamId });
    else if (prev && prevHash !== prev.hash) problems.push({ kind: 'relinked', seq, streamId });
    prev = { seq, hash };
  }
  return { ok: problems.length === 0, checked, problems };
}

export function describeProblem(p: VerifyProblem): string {
  switch (p.kind) {
    case 'edited':
      return `record seq ${p.seq} (stream id ${p.streamId}) was altered: its content no longer matches its hash`;
    case 'missing':
      return `record seq ${p.expectedSeq} is missing (deleted?) between seq ${p.afterSeq} and stream id ${p.streamId}`;
    case 'relinked':
      return `record seq ${p.seq} (stream id ${p.streamId}) does not link to the record before it`;
    case 'unreadable':
      return `stream entry ${p.streamId} is not a valid audit record: ${p.reason}`;
  }
}
