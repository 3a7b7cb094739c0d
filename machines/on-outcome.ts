import type { NodeEventOf } from '../contracts/events.ts';
import { ignore, machineOf, pathOf, type Work } from './decision.ts';
import { currentPrimary, promoteTo } from './promotion.ts';
import { send } from './send.ts';

/**
 * An executor's outcome: the backend's action is done, failed once, or gave up; what it frees up
 * follows in the same decision (standbys re-attached after a promote, the wait on streaming, a
 * deferred promote, a request kept meanwhile).
 */

export function onOutcome(w: Work, e: NodeEventOf<'action.outcome'>): void {
  const b = w.order.find((a) => {
    const ctx = machineOf(w, a).context;
    return ctx.pending?.actionId === e.actionId || ctx.gaveUp?.actionId === e.actionId;
  });
  if (b === undefined) {
    ignore(w, `no action ${e.actionId} is in flight (a late or repeated outcome); nothing to do`);
    return;
  }
  const pending = machineOf(w, b).context.pending;
  const reason = e.reason ?? e.result;
  send(w, b, () => ({ type: 'OUTCOME', actionId: e.actionId, result: e.result, reason }), `${e.action} ${e.actionId}: ${e.result} (attempt ${e.attempt})${e.reason ? `: ${e.reason}` : ''}`);
  if (e.result === 'failed' || pending?.actionId !== e.actionId) return;
  if (pending.type === 'promote' || pending.type === 'promote-switchover') {
    for (const other of w.order)
      if (other !== b)
        send(
          w,
          other,
          (ref) => ({ type: 'REATTACH', ref }),
          e.result === 'already'
            ? `pgpool had already made ${b} its primary by itself, which marks no other node down; detach standby ${other} (if still attached) and attach it again once it streams from ${b}`
            : `pgpool's promote of ${b} marked every other node down; confirm standby ${other} is out and attach it again once it streams from ${b}`,
          false,
          b,
        );
  }
  if (pending.type === 'detach' && e.result !== 'gave-up' && pathOf(w, b) === 'up.awaitingStream') {
    const primary = pending.primary ?? currentPrimary(w);
    send(
      w,
      b,
      (ref) => ({ type: 'AWAIT_STREAM', ref }),
      `${b} is out of load balancing; it goes back once it streams from ${primary ?? "pgpool's primary"}`,
      true,
      primary,
    );
  }
  if (pending.type === 'await-streaming' && e.result !== 'gave-up') {
    const from = pending.primary ?? "pgpool's primary";
    send(w, b, (ref) => ({ type: 'STREAMING', ref }), `${b} streams from ${from}${e.reason ? ` (${e.reason})` : ''}; attach it to pgpool again`);
  }
  if (w.deferred?.backend === b) {
    const d = w.deferred;
    w.deferred = null;
    promoteTo(w, b, `${d.why} (deferred from event ${d.eventId})`);
  }
  const waiting = w.deferredEvents.find((d) => d.backend === b);
  if (waiting && machineOf(w, b).context.pending === null) {
    w.deferredEvents = w.deferredEvents.filter((d) => d !== waiting);
    // Decide the kept request now, as if it arrived after the outcome; its actions carry its own id.
    w.decideKept(waiting.event);
  }
}
