import { GENESIS_HASH, type AuditBody, type AuditRecord } from '../contracts/audit.ts';
import { recordHash } from './hash.ts';
import { CHAIN_RESET } from './anchor.ts';

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
  | { kind: 'unreadable'; streamId: string; reason: string }
  /** Records before `seq` are gone and the record at `seq` says Redis lost them (a chain reset). */
  | { kind: 'reset'; seq: number; lostFrom: number; streamId: string }
  /** The chain starts at `seq` > 1 with no reset record and nothing configured to trim it. */
  | { kind: 'gap-at-start'; seq: number; streamId: string };

export interface VerifyResult {
  ok: boolean;
  checked: number;
  problems: VerifyProblem[];
  /** seq of the first record checked (1 unless older records were trimmed or lost). */
  firstSeq: number | null;
  /** Reset records met where the chain itself is whole (a JSONL copy spanning a Redis loss). */
  resets: number[];
}

/**
 * Walks a chain in stream order. An edited record no longer matches its own hash; a deleted
 * one leaves a gap in seq and a prevHash that points at nothing; both are named by seq.
 */
export function verifyChain(
  entries: ReadonlyArray<{ streamId: string; record: AuditRecord | { error: string } }>,
  opts: { trimmed?: boolean } = {},
): VerifyResult {
  const problems: VerifyProblem[] = [];
  const resets: number[] = [];
  let prev: ChainHead | null = null;
  let checked = 0;
  let firstSeq: number | null = null;
  for (const { streamId, record } of entries) {
    if ('error' in record) {
      problems.push({ kind: 'unreadable', streamId, reason: record.error });
      continue;
    }
    checked++;
    const { seq, prevHash, hash, ...body } = record;
    const isReset = body.to === CHAIN_RESET;
    if (recordHash(seq, prevHash, body) !== hash) problems.push({ kind: 'edited', seq, streamId });
    if (prev === null) {
      firstSeq = seq;
      // Older records absent: expected when the stream is trimmed, a named loss at a reset record.
      if (seq > 1 && isReset) problems.push({ kind: 'reset', seq, lostFrom: 1, streamId });
      else if (seq > 1 && !opts.trimmed) problems.push({ kind: 'gap-at-start', seq, streamId });
    } else if (seq !== prev.seq + 1) {
      problems.push(isReset ? { kind: 'reset', seq, lostFrom: prev.seq + 1, streamId } : { kind: 'missing', afterSeq: prev.seq, expectedSeq: prev.seq + 1, streamId });
    } else if (prevHash !== prev.hash) problems.push({ kind: 'relinked', seq, streamId });
    else if (isReset) resets.push(seq);
    prev = { seq, hash };
  }
  return { ok: problems.length === 0, checked, problems, firstSeq, resets };
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
    case 'reset':
      return `records seq ${p.lostFrom} to ${p.seq - 1} are missing: record seq ${p.seq} (${p.streamId}) says Redis lost them and the chain was continued (a reset; the JSONL copy may still hold them)`;
    case 'gap-at-start':
      return `the chain starts at seq ${p.seq} (${p.streamId}): records 1 to ${p.seq - 1} are missing although nothing is configured to trim them (audit.streamMaxLen is 0); Redis may have lost them`;
  }
}
