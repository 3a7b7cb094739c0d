import { auditInPlace, machineOf, pathOf, type Work } from './decision.ts';
import { send, waitsFor } from './send.ts';
import { leafPathOf } from './state-path.ts';

/**
 * The steps of a promotion that several events share: standbys stepping aside before it, the
 * promote itself (or its deferral behind an action in flight), and who the primary is meanwhile.
 */

/**
 * Before EFM promotes `primary`, every attached standby that will have to follow it leaves load
 * balancing, confirmed before the fence hook returns. Once the failed primary is detached pgpool
 * looks for a primary by itself (search_primary_node_timeout) and may adopt the promoted node on
 * its own, without marking the others down when it has no follow_primary_command; with none
 * found it sends writes to its main node, which may be the promoted one. Either way the new
 * primary takes writes through pgpool before pcpflow's promote, while a standby still replaying
 * the dead primary's WAL would serve balanced reads missing them.
 */
export function stepAside(w: Work, by: 'fence' | 'remote-pre-promotion', primary: string, failed: string | null): void {
  for (const other of w.order) {
    if (other === primary || other === failed || !pathOf(w, other).startsWith('up.')) continue;
    const pending = machineOf(w, other).context.pending;
    if (waitsFor(w, other, primary)) {
      // Started earlier (remote-pre-promotion): the fence's verdict waits for that detach too.
      if (pending?.type === 'detach') w.awaits.push(pending.actionId);
      continue;
    }
    send(
      w,
      other,
      (ref) => ({ type: 'STEP_ASIDE', ref }),
      `${by}: EFM is about to promote ${primary}; detach standby ${other} before ${primary} can take writes through pgpool (pgpool may adopt it as primary by itself), ` +
        `so no balanced read goes to a standby still following ${failed ?? 'the old primary'}; it is attached again once it streams from ${primary}`,
      true,
      primary,
    );
  }
}

/** Promote now, or, when the backend has an action in flight, remember it until that one ends. */
export function promoteTo(w: Work, address: string, why: string): void {
  const m = machineOf(w, address);
  const pending = m.context.pending;
  const path = leafPathOf(m);
  if (pending && path !== 'promoted') {
    w.deferred = { backend: address, eventId: w.event.eventId, why: why.slice(0, 500) };
    auditInPlace(w, 'decision', address, `${why}; deferred: ${pending.type} ${pending.actionId} is in flight, the promote follows its outcome`);
    return;
  }
  send(w, address, (ref) => ({ type: 'PROMOTE', ref }), why);
}

/** The primary a standby must follow now: the promoted backend, or the one whose promote is deferred. */
export function currentPrimary(w: Work): string | undefined {
  return w.order.find((a) => pathOf(w, a) === 'promoted') ?? w.deferred?.backend;
}

/**
 * A promotion is in flight from pgpool's promote request until every standby it marked down is
 * back: until then a standby may still follow the old primary, so it is attached only once it
 * streams from the new one.
 */
export function promotionInFlight(w: Work): boolean {
  if (w.deferred) return true;
  return w.order.some((a) => {
    const m = machineOf(w, a);
    const t = m.context.pending?.type;
    const path = leafPathOf(m);
    return t === 'promote' || t === 'promote-switchover' || path === 'up.awaitingReattach' || path === 'up.awaitingStream';
  });
}
