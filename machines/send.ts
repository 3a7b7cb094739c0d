import type { Action } from '../contracts/actions.ts';
import type { NodeEvent } from '../contracts/events.ts';
import type { BackendSnapshot } from './backend-machine.ts';
import type { ActionRef, BackendEvent } from './backend-types.ts';
import { machineOf, pathOf, pushAudit, type MakeEvent, type Work } from './decision.ts';
import { effectsOf } from './effects.ts';
import { leafPathOf, type LeafPath } from './state-path.ts';
import { step } from './step.ts';
import { unhandledReason } from './unhandled.ts';

/**
 * One event to one backend machine: through XState's pure `transition()`, held while the backend
 * is in maintenance, kept while it has an action in flight, audited either way; and the cluster
 * rule for entering `promoted` (at most one primary; every standby owes a re-attach).
 */

interface Sent {
  from: LeafPath;
  to: LeafPath;
  action: Action | null;
}

/**
 * Sends one event to one backend machine through XState's pure `transition()`, records the audit
 * entry, and applies the cluster rule for entering `promoted`.
 */
export function send(w: Work, address: string, make: MakeEvent, why: string, reportIgnored = true, primary?: string): Sent {
  const before = machineOf(w, address);
  // Action ids carry the id of the event that caused them, a kept request's own included, so every
  // PCP action traces back to one hook call. Unique: a kept request had no action of its own.
  const ref: ActionRef = {
    actionId: `${w.event.eventId}.${w.actions.length}`,
    eventId: w.event.eventId,
    cluster: w.cluster,
    why,
    ...(primary !== undefined ? { primary } : {}),
  };
  const ev = make(ref);
  if (holds(w, address, ev)) return hold(w, address, before, why);
  const [after, returned] = step(before, ev);
  const from = leafPathOf(before);
  const to = leafPathOf(after);
  const { requested: action, notes } = effectsOf(returned);
  const changed = from !== to || JSON.stringify(before.context) !== JSON.stringify(after.context);
  w.machines.set(address, after);
  if (action) w.actions.push(action);
  if (changed || action) {
    // The router's sentence explains an action or an outcome; otherwise the machine's note says it better.
    const lead = action || notes.length === 0 || ev.type === 'OUTCOME' ? why : null;
    const note = [lead, ...notes].filter((n): n is string => n !== null).join('; ');
    pushAudit(w, { kind: 'decision', backend: address, from, to, actionIds: action ? [action.actionId] : [], note });
  } else if (before.context.pending && isLoadBalancerRequest(w.event) && 'ref' in ev) {
    // Not dropped: decided again once the action in flight has its outcome.
    w.deferredEvents = [...w.deferredEvents.filter((d) => d.backend !== address), { backend: address, event: w.event }];
    const note = `${before.context.pending.type} ${before.context.pending.actionId} is still in flight for it; this request is kept and decided again when that action's outcome arrives`;
    pushAudit(w, { kind: 'decision', backend: address, from, to, actionIds: [], note });
  } else if (notes.length > 0 || reportIgnored) {
    pushAudit(w, { kind: 'event-ignored', backend: address, from, to, actionIds: [], note: notes.length ? notes.join('; ') : unhandledReason(before, ev) });
  }
  if (to === 'promoted' && from !== 'promoted') onPromoted(w, address, action !== null);
  return { from, to, action };
}

/** Machine events that would move a backend an operator holds in maintenance. */
const HELD_IN_MAINTENANCE: ReadonlySet<BackendEvent['type']> = new Set([
  'ATTACH',
  'ATTACH_FOLLOWING',
  'STREAMING',
  'DETACH',
  'FOLLOW_PRIMARY',
  'REATTACH',
  'DRIFT',
  'RETRY',
]);

/**
 * Maintenance holds a backend where the operator put it. An operator's own command still applies
 * (they are explicit), and so does a promotion (fence, post-promotion): EFM has already changed
 * PostgreSQL's primary, and a pgpool that does not follow stops every write.
 */
function holds(w: Work, address: string, ev: BackendEvent): boolean {
  if (!w.maintenance.some((m) => m.backend === address)) return false;
  if (w.event.source === 'operator' || w.event.type === 'efm.fence' || w.event.type === 'efm.post-promotion') return false;
  return HELD_IN_MAINTENANCE.has(ev.type);
}

function hold(w: Work, address: string, before: BackendSnapshot, why: string): Sent {
  const from = leafPathOf(before);
  const m = w.maintenance.find((x) => x.backend === address);
  const since = m ? `in maintenance since ${m.since} (${m.by}${m.reason ? `: ${m.reason}` : ''})` : 'in maintenance';
  // EFM's and pgpool's word on the backend's health is kept (the latest per backend) and decided
  // when maintenance ends; pcpflow's own follow-ups (drift, re-attach, retry) are re-derived then.
  const keep = w.event.source === 'efm' || w.event.source === 'pgpool';
  if (keep) w.heldEvents = [...w.heldEvents.filter((h) => h.backend !== address), { backend: address, event: w.event }];
  const fate = keep ? 'kept, and decided when maintenance ends' : 'the reconciler repairs any difference once maintenance ends';
  w.audit.push({ kind: 'event-ignored', backend: address, from, to: from, actionIds: [], note: `held: ${address} is ${since}; ${why}; ${fate}` });
  return { from, to: from, action: null };
}

function isLoadBalancerRequest(e: NodeEvent): boolean {
  return e.type === 'efm.attach' || e.type === 'efm.detach';
}

/**
 * Enforces "at most one promoted" and prepares the standbys: pgpool's promote marks every other
 * node down, so each `up` standby now owes a re-attach once the promote completes.
 */
function onPromoted(w: Work, address: string, promoteRequested: boolean): void {
  for (const other of w.order) {
    if (other === address) continue;
    if (pathOf(w, other) === 'promoted')
      send(w, other, () => ({ type: 'DEMOTE' }), `${address} became pgpool's primary`);
    // A standby the fence already took out for this primary waits on: nothing is owed it.
    else if (promoteRequested && !waitsFor(w, other, address))
      send(w, other, () => ({ type: 'PEER_PROMOTING' }), `pgpool's promote of ${address} will mark it down`, false);
  }
  if (w.deferred && w.deferred.backend !== address) {
    pushAudit(w, { kind: 'decision', backend: w.deferred.backend, actionIds: [], note: `the deferred promote of ${w.deferred.backend} (event ${w.deferred.eventId}) is superseded by ${address}` });
  }
  w.deferred = null;
}

/** Out of load balancing (detach or wait in flight) until it streams from `primary`. */
export function waitsFor(w: Work, address: string, primary: string): boolean {
  const m = machineOf(w, address);
  return leafPathOf(m) === 'up.awaitingStream' && m.context.pending?.primary === primary;
}
