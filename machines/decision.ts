import type { Action } from '../contracts/actions.ts';
import type { NodeEvent } from '../contracts/events.ts';
import type { BackendSnapshot } from './backend-machine.ts';
import { type ActionRef, type BackendEvent } from './backend-types.ts';
import { MachineInvariantError } from './errors.ts';
import type { ClusterSnapshot } from './snapshot.ts';
import { leafPathOf, type LeafPath } from './state-path.ts';
import { resolveBackend } from './views.ts';

/**
 * A decision: what decide() returns, and the work in progress the router's handlers share while
 * they make it (the backends' machines, the actions and audit entries so far), with the few ways
 * an entry is written.
 */

export interface DecisionAudit {
  kind: 'decision' | 'event-ignored' | 'event-rejected' | 'event-duplicate';
  /** Set when the entry decides a kept request rather than the event being decided: the request's own id and type. */
  eventId?: string;
  eventType?: NodeEvent['type'];
  backend: string | null;
  from?: string;
  to?: string;
  actionIds: string[];
  note: string;
}

export interface Decision {
  snapshot: ClusterSnapshot;
  actions: Action[];
  audit: DecisionAudit[];
  /**
   * Actions already in flight that this event's purpose depends on (a standby detach started by
   * remote-pre-promotion, for the fence): a synchronous hook waits for them as for `actions`.
   */
  awaits: string[];
}

export interface Work {
  /** The event being decided, or a kept request while it is decided again inside an outcome's decision. */
  event: NodeEvent;
  readonly now: Date;
  /** The event whose decision this is: entries about a kept request name the request's own id. */
  readonly decided: NodeEvent;
  readonly cluster: string;
  readonly order: string[];
  readonly machines: Map<string, BackendSnapshot>;
  readonly actions: Action[];
  readonly audit: DecisionAudit[];
  readonly awaits: string[];
  deferred: ClusterSnapshot['deferredPromotion'];
  deferredEvents: ClusterSnapshot['deferredEvents'];
  maintenance: ClusterSnapshot['maintenance'];
  heldEvents: ClusterSnapshot['heldEvents'];
  /**
   * Decides a kept request inside this decision, under its own event id (after the outcome that
   * frees its backend, or at the end of maintenance), then returns to the current event.
   */
  readonly decideKept: (kept: NodeEvent) => void;
}

export type MakeEvent = (ref: ActionRef) => BackendEvent;

export function pushAudit(w: Work, a: DecisionAudit): void {
  w.audit.push(w.event === w.decided ? a : { eventId: w.event.eventId, eventType: w.event.type, ...a });
}

/** An entry about a backend that stays where it is: nothing moved and no action was issued. */
export function auditInPlace(w: Work, kind: DecisionAudit['kind'], address: string, note: string): void {
  const path = pathOf(w, address);
  pushAudit(w, { kind, backend: address, from: path, to: path, actionIds: [], note });
}

export function machineOf(w: Work, address: string): BackendSnapshot {
  const m = w.machines.get(address);
  if (!m) throw new MachineInvariantError(`no machine for ${address}`);
  return m;
}

export function pathOf(w: Work, address: string): LeafPath {
  return leafPathOf(machineOf(w, address));
}

export function reject(w: Work, text: string | null, what: string): void {
  const known = w.order.join(', ');
  pushAudit(w, {
    kind: 'event-rejected',
    backend: w.event.backend,
    actionIds: [],
    note: text === null ? `the event names no ${what}` : `${what} ${text} is not a backend of cluster ${w.cluster} (backends: ${known})`,
  });
}

export function ignore(w: Work, note: string): void {
  pushAudit(w, { kind: 'event-ignored', backend: w.event.backend, actionIds: [], note });
}

export function resolve(w: Work, s: ClusterSnapshot, text: string | null, what: string): string | null {
  const b = text === null ? null : resolveBackend(s, text);
  if (b === null) reject(w, text, what);
  return b;
}
