import type { NodeEvent } from '../contracts/events.ts';
import { ignore, pathOf, resolve, type Work } from './decision.ts';
import { onEfmAttach, onEfmDetach, onFence, onFollowPrimary, onPostPromotion } from './on-hooks.ts';
import { onAttentionClear, onMaintenance, onOperatorCommand } from './on-operator.ts';
import { onOutcome } from './on-outcome.ts';
import { onDrift, onRetry } from './on-reconciler.ts';
import { stepAside } from './promotion.ts';
import { send } from './send.ts';
import type { ClusterSnapshot } from './snapshot.ts';
import { resolveBackend } from './views.ts';

/** Which handler decides an event, and the hooks that carry no pgpool change of their own. */

/** Why hooks that carry no pgpool change are still worth a line in the audit trail. */
function auditOnly(e: NodeEvent): string | null {
  switch (e.type) {
    case 'efm.resumed':
      return 'EFM resumed monitoring; the attach hook that follows carries the pgpool change';
    case 'efm.db-failure':
      return 'EFM reports a local database failure; the detach hook for that node carries the pgpool change';
    case 'efm.primary-isolated':
      return 'the primary is isolated from the EFM majority; pgpool is left as is until EFM promotes another node';
    case 'efm.remote-pre-promotion':
      return `EFM is about to promote ${e.newPrimary}; the fence and post-promotion hooks carry the rest of the pgpool change`;
    case 'efm.remote-post-promotion':
      return `EFM promoted ${e.newPrimary}; the post-promotion hook on the new primary carries the pgpool change`;
    case 'efm.notification':
      return `EFM notification recorded: ${e.subject.slice(0, 200)}`;
    default:
      return null;
  }
}

export function route(w: Work, s: ClusterSnapshot): void {
  const e = w.event;
  switch (e.type) {
    case 'efm.attach':
      return onEfmAttach(w, s, e);
    case 'efm.detach':
      return onEfmDetach(w, s, e);
    case 'efm.fence':
      return onFence(w, s, e, w.now);
    case 'efm.post-promotion':
      return onPostPromotion(w, s, e);
    case 'pgpool.follow-primary':
      return onFollowPrimary(w, s, e);
    case 'operator.rebuild-started': {
      const b = resolve(w, s, e.backend, 'address');
      if (b !== null) send(w, b, (ref) => ({ type: 'REBUILD_STARTED', ref }), `an operator is rebuilding ${b}; keep it out of pgpool meanwhile`);
      return;
    }
    case 'operator.rebuild-done': {
      const b = resolve(w, s, e.backend, 'address');
      if (b !== null) send(w, b, () => ({ type: 'REBUILD_DONE' }), `an operator finished rebuilding ${b}; it stays out until EFM attaches it`);
      return;
    }
    case 'operator.command':
      return onOperatorCommand(w, s, e);
    case 'operator.maintenance':
      return onMaintenance(w, s, e);
    case 'operator.attention-clear':
      return onAttentionClear(w, s, e);
    case 'action.outcome':
      return onOutcome(w, e);
    case 'reconciler.drift':
      return onDrift(w, s, e);
    case 'reconciler.retry':
      return onRetry(w, s, e);
    case 'efm.remote-pre-promotion': {
      // The earliest word of a promotion: standbys leave load balancing while the old primary is
      // still pgpool's primary (pgpool then needs no primary search to detach them).
      const p = resolveBackend(s, e.newPrimary);
      if (p !== null) stepAside(w, 'remote-pre-promotion', p, w.order.find((a) => pathOf(w, a) === 'promoted') ?? null);
      if (w.audit.length === 0) ignore(w, auditOnly(e) ?? e.type);
      return;
    }
    case 'efm.resumed':
    case 'efm.db-failure':
    case 'efm.primary-isolated':
    case 'efm.remote-post-promotion':
    case 'efm.notification':
      return ignore(w, auditOnly(e) ?? e.type);
  }
}
