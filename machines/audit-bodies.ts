import type { AuditBody } from '../contracts/audit.ts';
import type { NodeEvent } from '../contracts/events.ts';
import type { Decision } from './decide.ts';
import type { ClusterSnapshot } from './snapshot.ts';

/**
 * Turns a decision into audit bodies. The first carries the event and, at checkpoints, the
 * snapshot it was decided from (null: not recorded this time), so the trail alone is enough to
 * decide every event again (`pcpflow replay --verify`). Production and the verifier both build
 * records here, so a difference can only come from the decision.
 */
export function decisionBodies(cluster: string, event: NodeEvent, before: ClusterSnapshot | null, decision: Decision, at: Date): AuditBody[] {
  const audits = decision.audit.length
    ? decision.audit
    : [{ kind: 'event-ignored' as const, backend: event.backend, actionIds: [], note: `Event ${event.type} required nothing.` }];
  return audits.map((a, i) => ({
    kind: a.kind,
    cluster,
    at: at.toISOString(),
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
    payload: i === 0 ? event : undefined,
    snapshot: i === 0 && before !== null ? before : undefined,
  }));
}
