import { z } from 'zod';
import { AuditBodySchema, AuditRecordSchema, type AuditBody } from '../contracts/audit.ts';
import { InvalidInputError } from '../contracts/errors.ts';
import { NodeEventSchema } from '../contracts/events.ts';
import { jsonLines } from '../contracts/json-lines.ts';
import { ClusterSnapshotSchema, decide, decisionBodies, withPolicy, type ClusterSnapshot } from '../machines/index.ts';
import { canonicalJson } from './hash.ts';

/**
 * `pcpflow replay --verify`: every decision in an exported audit is decided again and the records
 * it yields are compared with the recorded ones. The decider records the whole snapshot at
 * bootstrap, every few versions and whenever the policy changes; between those checkpoints each
 * decision starts from the state the one before it left. At a checkpoint the recorded snapshot
 * must be that state, so a state that was not the product of the decisions before it (edited by
 * hand, or changed by a rule outside decide()) is named too. Pure: the caller reads the file.
 */

export interface VerifyDifference {
  cluster: string;
  line: number;
  seq: number | null;
  eventId: string;
  eventType: string;
  at: string;
  /** What differs, in words: the field and the record. */
  what: string;
  recorded: string;
  replayed: string;
}

export interface VerifyResult {
  clusters: string[];
  /** Decisions decided again and found identical (up to the first difference). */
  identical: number;
  /** Decisions before the first recorded snapshot of the export: no state to decide them from. */
  withoutSnapshot: number;
  difference: VerifyDifference | null;
}

interface Row {
  line: number;
  seq: number | null;
  body: AuditBody;
}

export function parseAuditLines(text: string): Row[] {
  const rows: Row[] = [];
  for (const { json, line } of jsonLines(text)) {
    const rec = AuditRecordSchema.safeParse(json);
    if (rec.success) {
      const { seq, prevHash: _p, hash: _h, ...body } = rec.data;
      rows.push({ line, seq, body });
      continue;
    }
    const body = AuditBodySchema.safeParse(json);
    if (!body.success) throw new InvalidInputError(`line ${line}: not an audit record (${body.error.issues[0]?.path.join('.') ?? ''}: ${body.error.issues[0]?.message ?? 'invalid'})`);
    rows.push({ line, seq: null, body: body.data });
  }
  return rows;
}

/** The fields a decision determines; `at`, payload and snapshot are its inputs. */
const DECIDED: ReadonlyArray<keyof AuditBody> = ['kind', 'cluster', 'eventId', 'eventType', 'backend', 'from', 'to', 'actions', 'note'];

function describe(b: AuditBody | undefined): string {
  if (!b) return '(no record)';
  const move = b.from || b.to ? ` ${b.from ?? '·'} → ${b.to ?? '·'}` : '';
  const acts = b.actions?.length ? ` actions ${b.actions.map((a) => `${a.type} ${a.backend} ${a.actionId}`).join(', ')}` : '';
  return `${b.kind} ${b.backend ?? '-'}${move}${acts}: ${b.note}`;
}

function compare(recorded: AuditBody[], replayed: AuditBody[]): { what: string; recorded: string; replayed: string } | null {
  const n = Math.max(recorded.length, replayed.length);
  for (let i = 0; i < n; i++) {
    const r = recorded[i];
    const p = replayed[i];
    if (!r || !p) return { what: `record ${i + 1} of the decision ${r ? 'was not produced by the replay' : 'is missing from the audit'}`, recorded: describe(r), replayed: describe(p) };
    for (const f of DECIDED) {
      const rv = f === 'actions' && r.actions?.length === 0 ? undefined : r[f];
      const pv = f === 'actions' && p.actions?.length === 0 ? undefined : p[f];
      if (canonicalJson(rv ?? null) !== canonicalJson(pv ?? null)) return { what: `record ${i + 1} of the decision: ${f} differs`, recorded: describe(r), replayed: describe(p) };
    }
  }
  return null;
}

export function verifyDecisions(rows: readonly Row[]): VerifyResult {
  const result: VerifyResult = { clusters: [], identical: 0, withoutSnapshot: 0, difference: null };
  // The state the previous decision of each cluster left, to check the next one starts from it.
  const left = new Map<string, { snapshot: ClusterSnapshot; eventId: string }>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (!row) continue;
    const first = row.body;
    if (first.to === 'bootstrapped' && first.snapshot !== undefined) {
      // The state the cluster started from: the first decision must start from it.
      const boot = ClusterSnapshotSchema.safeParse(first.snapshot);
      if (boot.success) left.set(first.cluster, { snapshot: boot.data, eventId: `bootstrap (audit ${row.seq !== null ? `#${row.seq}` : `line ${row.line}`})` });
      continue;
    }
    const event = NodeEventSchema.safeParse(first.payload);
    if (!event.success || first.eventId === undefined || first.eventId !== event.data.eventId) continue;
    const eventId = first.eventId;
    const cluster = first.cluster;
    const prev = left.get(cluster);
    // The records of one decision were committed together (one script), so they are consecutive;
    // a kept request decided inside it is recorded under its own event id.
    const keptFrom = first.snapshot ?? prev?.snapshot;
    // Kept requests: deferred behind an action in flight, or held while their backend was in maintenance.
    const keptList = z.array(z.object({ event: z.object({ eventId: z.string() }) })).optional();
    const keptState = z.object({ deferredEvents: keptList, heldEvents: keptList }).safeParse(keptFrom).data;
    const kept = new Set([...(keptState?.deferredEvents ?? []), ...(keptState?.heldEvents ?? [])].map((d) => d.event.eventId));
    const group: AuditBody[] = [first];
    for (let next = rows[i + 1]; next && next.body.at === first.at && next.body.payload === undefined && next.body.kind !== 'action-attempt' && (next.body.eventId === eventId || kept.has(next.body.eventId ?? '')); next = rows[i + 1]) {
      i += 1;
      group.push(next.body);
    }
    if (first.snapshot === undefined && !prev) {
      // Before the first checkpoint of an export (or written by an older pcpflow): no state to start from.
      result.withoutSnapshot += 1;
      continue;
    }
    if (!result.clusters.includes(cluster)) result.clusters.push(cluster);
    const base = { cluster, line: row.line, seq: row.seq, eventId, eventType: event.data.type, at: first.at };
    let before: ClusterSnapshot;
    if (first.snapshot === undefined && prev) {
      // Between checkpoints the state is the one the previous decision left.
      before = prev.snapshot;
    } else {
      const parsed = ClusterSnapshotSchema.safeParse(first.snapshot);
      if (!parsed.success) {
        result.difference = { ...base, what: `the recorded snapshot is invalid (${parsed.error.issues[0]?.message ?? 'invalid'})`, recorded: '', replayed: '' };
        return result;
      }
      before = parsed.data;
    }
    if (prev && first.snapshot !== undefined) {
      const expected = withPolicy(prev.snapshot, before.policy);
      if (canonicalJson(expected) !== canonicalJson(before))
        return {
          ...result,
          difference: {
            ...base,
            what: `the snapshot recorded with this decision is not the state left by ${prev.eventId.startsWith('bootstrap') ? prev.eventId : `the decision of event ${prev.eventId}`}`,
            recorded: canonicalJson(before).slice(0, 600),
            replayed: canonicalJson(expected).slice(0, 600),
          },
        };
    }
    const at = new Date(first.at);
    const decision = decide(before, event.data, at);
    const replayed = decisionBodies(cluster, event.data, first.snapshot === undefined ? null : before, decision, at);
    const diff = compare(group, replayed);
    if (diff) return { ...result, difference: { ...base, ...diff } };
    result.identical += 1;
    left.set(cluster, { snapshot: ClusterSnapshotSchema.parse(JSON.parse(JSON.stringify(decision.snapshot))), eventId });
  }
  return result;
}

export function formatVerify(r: VerifyResult): string {
  const lines: string[] = [];
  const skipped = r.withoutSnapshot ? `; ${r.withoutSnapshot} decision(s) before the first recorded snapshot not checked` : '';
  if (r.difference === null) {
    lines.push(`${r.identical} decision(s) of ${r.clusters.join(', ') || 'no cluster'} decided again from their recorded snapshots: all identical${skipped}`);
    return `${lines.join('\n')}\n`;
  }
  const d = r.difference;
  lines.push(
    `DIFFERS: decision of event ${d.eventId} (${d.eventType}, cluster ${d.cluster}, audit ${d.seq !== null ? `#${d.seq}` : `line ${d.line}`}, at ${d.at}): ${d.what}`,
    `  recorded: ${d.recorded}`,
    `  replayed: ${d.replayed}`,
    `${r.identical} decision(s) before it were identical${skipped}`,
  );
  return `${lines.join('\n')}\n`;
}
