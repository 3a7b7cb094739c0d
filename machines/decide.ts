import type { NodeEvent } from '../contracts/events.ts';
import { ignore, machineOf, pushAudit, type Decision, type Work } from './decision.ts';
import { route } from './route.ts';
import type { ClusterSnapshot } from './snapshot.ts';
import { persistBackend, restoreBackend } from './snapshot-actors.ts';
import { resolveBackend } from './views.ts';

/**
 * The decision core: (snapshot, event, now) → (next snapshot, PCP actions, audit entries).
 *
 * Coordination is a pure router over one machine per backend rather than a parent cluster machine
 * with spawned children. The cluster-wide rules are few and are about *other* backends (promoting
 * one demotes the old primary and owes every standby a re-attach), and a router states them in a
 * dozen readable lines, while keeping each backend's persisted snapshot flat and independently
 * decodable. Children inside a parent would put actor references into the persisted form and make
 * `transition()` depend on child-actor restoration, which is exactly what a pure decider avoids.
 * The router owns the cluster invariants: at most one `promoted` (whenever a backend enters
 * `promoted`, every other promoted one is demoted in the same decision) and deduplication.
 *
 * Here: deduplication and the decision's frame. route.ts picks the handler (on-*.ts), send.ts
 * applies one event to one backend machine, decision.ts holds the work in progress.
 */

/** Keeps the dedupe list bounded even under an event storm; the window usually prunes far sooner. */
const MAX_SEEN = 10_000;

/** Decides a kept event inside the current decision, under its own event id, then restores the current one. */
function routeAs(w: Work, s: ClusterSnapshot, kept: NodeEvent): void {
  const current = w.event;
  w.event = kept;
  route(w, s);
  w.event = current;
}

/**
 * Pure and deterministic: the same (snapshot, event, now) always yields the same decision. `now`
 * only measures the dedupe window, because EFM runs the load-balancer hooks on every agent and one
 * failure may arrive several times within seconds.
 */
export function decide(snapshot: ClusterSnapshot, event: NodeEvent, now: Date): Decision {
  const nowMs = now.getTime();
  const at = now.toISOString();
  const horizon = nowMs - snapshot.policy.dedupeWindowMs;
  const seen = snapshot.seen.filter((x) => Date.parse(x.at) > horizon);
  // A dedupe key only collapses reports of the same change: once any other event about that
  // backend has come in between (say an attach after a detach), a later identical report is a
  // new change (the standby failed again) and must be decided, not dropped.
  const subject = event.backend === null ? null : (resolveBackend(snapshot, event.backend) ?? event.backend);
  const first = seen.find(
    (x, i) =>
      x.eventId === event.eventId ||
      (x.dedupeKey === event.dedupeKey && !seen.slice(i + 1).some((y) => y.backend === subject && y.dedupeKey !== x.dedupeKey)),
  );
  if (first) {
    return {
      snapshot: { ...snapshot, seen },
      actions: [],
      awaits: [],
      audit: [
        {
          kind: 'event-duplicate',
          backend: event.backend,
          actionIds: [],
          note: `same ${first.eventId === event.eventId ? 'event id' : 'dedupe key'} as event ${first.eventId} at ${first.at}; EFM may report one change from several agents, so it is decided once`,
        },
      ],
    };
  }
  const nextSeen = [...seen, { dedupeKey: event.dedupeKey, eventId: event.eventId, at, backend: subject }].slice(-MAX_SEEN);
  const w: Work = {
    event,
    now,
    decided: event,
    cluster: snapshot.cluster,
    order: snapshot.backends.map((b) => b.context.address),
    machines: new Map(snapshot.backends.map((b) => [b.context.address, restoreBackend(b)])),
    actions: [],
    audit: [],
    awaits: [],
    deferred: snapshot.deferredPromotion,
    deferredEvents: snapshot.deferredEvents,
    maintenance: snapshot.maintenance,
    heldEvents: snapshot.heldEvents,
    decideKept: (kept) => routeAs(w, snapshot, kept),
  };
  if (event.cluster !== snapshot.cluster) {
    pushAudit(w, { kind: 'event-rejected', backend: event.backend, actionIds: [], note: `the event is for cluster ${event.cluster}, not ${snapshot.cluster}` });
  } else {
    route(w, snapshot);
  }
  if (w.audit.length === 0) ignore(w, `${event.type} changes nothing in pgpool`);
  return {
    snapshot: {
      ...snapshot,
      backends: w.order.map((a) => persistBackend(machineOf(w, a))),
      seen: nextSeen,
      deferredPromotion: w.deferred,
      deferredEvents: w.deferredEvents,
      maintenance: w.maintenance,
      heldEvents: w.heldEvents,
    },
    actions: w.actions,
    audit: w.audit,
    awaits: w.awaits,
  };
}
