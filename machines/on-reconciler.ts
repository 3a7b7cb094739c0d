import type { NodeEventOf } from '../contracts/events.ts';
import { ignore, machineOf, pathOf, resolve, type Work } from './decision.ts';
import { send } from './send.ts';
import type { ClusterSnapshot } from './snapshot.ts';
import { isAttached } from '../contracts/pgpool-node.ts';

/** The reconciler's reports: pgpool differs from what the machines expect (drift), or an action that gave up may be retried. */

export function onDrift(w: Work, s: ClusterSnapshot, e: NodeEventOf<'reconciler.drift'>): void {
  const b = resolve(w, s, e.backend, 'address');
  if (b === null) return;
  const promoting = w.order.find((a) => {
    const t = machineOf(w, a).context.pending?.type;
    return t === 'promote' || t === 'promote-switchover';
  });
  if (promoting !== undefined) {
    ignore(w, `a promote of ${promoting} is in flight; pgpool's view changes on purpose until it completes`);
    return;
  }
  const observedPrimary = isAttached(e.observed.status) && e.observed.role === 'primary';
  const expectedPrimary = w.order.find((a) => pathOf(w, a) === 'promoted');
  const why = `reconciler: pgpool shows node ${e.nodeId} (${b}) ${e.observed.status}/${e.observed.role}, expected ${e.expected}`;
  if (observedPrimary && expectedPrimary !== undefined && expectedPrimary !== b)
    send(w, expectedPrimary, (ref) => ({ type: 'DRIFT', ref, observed: { status: 'up', role: 'standby' } }), `${why}; make ${expectedPrimary} pgpool's primary again`);
  send(w, b, (ref) => ({ type: 'DRIFT', ref, observed: e.observed }), why);
}

export function onRetry(w: Work, s: ClusterSnapshot, e: NodeEventOf<'reconciler.retry'>): void {
  const b = resolve(w, s, e.backend, 'address');
  if (b === null) return;
  const gaveUp = machineOf(w, b).context.gaveUp;
  if (pathOf(w, b) !== 'attention' || gaveUp?.actionId !== e.actionId) {
    ignore(w, `${b} is no longer in attention for ${e.actionId}; nothing to retry`);
    return;
  }
  send(w, b, (ref) => ({ type: 'RETRY', ref }), `reconciler: pgpool answers again and the cool-down has passed; retry ${gaveUp.type} of ${b} that gave up (${gaveUp.reason})`);
}
