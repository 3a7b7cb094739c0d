import type { Action } from '../contracts/actions.ts';
import type { AuditBody } from '../contracts/audit.ts';
import type { NodeEvent } from '../contracts/events.ts';
import type { Decision, DecisionAudit } from './decision.ts';
import type { ClusterSnapshot } from './snapshot.ts';

/**
 * A decision as the audit trail records it, in one projection: the decider's records, the
 * verifier's replayed records and `pcpflow simulate`/`replay` rows are all built from
 * `decisionEntries`, so they can only differ where the decision did.
 */

/** One audit entry of a decision, under the event it is about, with the actions it issued. */
export interface DecisionEntry {
  kind: DecisionAudit['kind'];
  eventId: string;
  eventType: NodeEvent['type'];
  backend: string | null;
  from?: string;
  to?: string;
  actions: Array<Pick<Action, 'actionId' | 'type' | 'backend'>>;
  note: string;
}

export function decisionEntries(event: NodeEvent, decision: Decision): DecisionEntry[] {
  const audits: DecisionAudit[] = decision.audit.length
    ? decision.audit
    : [{ kind: 'event-ignored', backend: event.backend, actionIds: [], note: `Event ${event.type} required nothing.` }];
  return audits.map((a) => ({
    kind: a.kind,
    // A kept request decided inside an outcome's decision is recorded under its own event.
    eventId: a.eventId ?? event.eventId,
    eventType: a.eventType ?? event.type,
    backend: a.backend,
    from: a.from,
    to: a.to,
    actions: decision.actions
      .filter((x) => a.actionIds.includes(x.actionId))
      .map((x) => ({ actionId: x.actionId, type: x.type, backend: x.backend })),
    note: a.note,
  }));
}

/**
 * The audit bodies of a decision. The first carries the event and, at checkpoints, the snapshot
 * it was decided from (null: not recorded this time), so the trail alone is enough to decide
 * every event again (`pcpflow replay --verify`).
 */
export function decisionBodies(cluster: string, event: NodeEvent, before: ClusterSnapshot | null, decision: Decision, at: Date): AuditBody[] {
  return decisionEntries(event, decision).map((e, i) => ({
    kind: e.kind,
    cluster,
    at: at.toISOString(),
    eventId: e.eventId,
    eventType: e.eventType,
    backend: e.backend,
    from: e.from,
    to: e.to,
    actions: e.actions,
    note: e.note,
    payload: i === 0 ? event : undefined,
    snapshot: i === 0 && before !== null ? before : undefined,
  }));
}
