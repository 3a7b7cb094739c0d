import type { Action } from '../contracts/actions.ts';
import type { NodeEvent } from '../contracts/events.ts';
import { backendViews, decisionEntries, type ClusterSnapshot, type Decision } from '../machines/index.ts';

/** A decision as `simulate` and `replay` print it: one row per audit entry, as JSON lines or a table. */

/** One printed line: one audit entry of one decision (a decision may touch several backends). */
export interface DecisionRow {
  line: number | null;
  eventId: string;
  event: string;
  kind: string;
  backend: string | null;
  from: string | null;
  to: string | null;
  actions: Array<Pick<Action, 'actionId' | 'type' | 'backend'>>;
  note: string;
}

/** The rows of one decision: the audit's own projection (machines/audit-bodies.ts), with the scenario line. */
export function rowsOf(line: number | null, event: NodeEvent, d: Decision): DecisionRow[] {
  return decisionEntries(event, d).map((e) => ({
    line,
    eventId: e.eventId,
    event: e.eventType,
    kind: e.kind,
    backend: e.backend,
    from: e.from ?? null,
    to: e.to ?? null,
    actions: e.actions,
    note: e.note,
  }));
}

export function formatRowsJson(rows: readonly DecisionRow[]): string {
  return rows
    .map((r) =>
      JSON.stringify({
        line: r.line,
        eventId: r.eventId,
        event: r.event,
        kind: r.kind,
        backend: r.backend,
        from: r.from,
        to: r.to,
        actions: r.actions.map((a) => ({ type: a.type, backend: a.backend, actionId: a.actionId })),
        note: r.note,
      }),
    )
    .map((l) => `${l}\n`)
    .join('');
}

export function formatRowsTable(rows: readonly DecisionRow[], snapshot?: ClusterSnapshot): string {
  const out: string[] = [];
  const head = ['#', 'event', 'backend', 'transition', 'actions', 'note'];
  const cells = rows.map((r) => [
    r.line === null ? '' : String(r.line),
    r.event,
    r.backend ?? '-',
    r.kind === 'decision' ? `${r.from ?? '?'} → ${r.to ?? '?'}` : r.kind,
    r.actions.map((a) => `${a.type} ${a.backend}`).join(', ') || '-',
    r.note,
  ]);
  const widths = head.map((h, i) => Math.min(i === 5 ? 0 : 40, Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length))));
  const fmt = (c: string[]): string => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i] ?? 0))).join('  ');
  out.push(fmt(head));
  for (const c of cells) out.push(fmt(c));
  if (snapshot) {
    out.push('', 'final state:');
    for (const v of backendViews(snapshot)) out.push(`  ${v.address.padEnd(24)} ${v.path}${v.pending ? ` (in flight: ${v.pending.type} ${v.pending.actionId})` : ''}`);
  }
  return `${out.join('\n')}\n`;
}
