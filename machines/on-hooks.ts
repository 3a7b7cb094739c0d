import { formatAddress, parseAddress } from '../contracts/address.ts';
import type { NodeEventOf } from '../contracts/events.ts';
import { auditInPlace, ignore, pathOf, reject, resolve, type Work } from './decision.ts';
import { currentPrimary, promoteTo, promotionInFlight, stepAside } from './promotion.ts';
import { send } from './send.ts';
import type { ClusterSnapshot } from './snapshot.ts';
import { resolveBackend } from './views.ts';

/** What EFM's load-balancer and promotion hooks and pgpool's follow_primary_command ask of pgpool. */

export function onEfmAttach(w: Work, s: ClusterSnapshot, e: NodeEventOf<'efm.attach'>): void {
  const b = resolve(w, s, e.backend, 'address');
  if (b === null) return;
  if (e.nodeType !== 'standby') {
    promoteTo(w, b, `EFM attaches ${b} as the primary and pgpool does not have it as primary`);
    return;
  }
  const primary = currentPrimary(w);
  if (promotionInFlight(w) && primary !== b)
    send(
      w,
      b,
      (ref) => ({ type: 'ATTACH_FOLLOWING', ref }),
      `EFM attaches ${b} as a standby while a promotion is in flight; it is attached once it streams from ${primary ?? "pgpool's new primary"}`,
      true,
      primary,
    );
  else send(w, b, (ref) => ({ type: 'ATTACH', ref }), `EFM attaches ${b} as a healthy standby (efm.attach s, e.g. after efm resume)`, true, primary);
}

export function onEfmDetach(w: Work, s: ClusterSnapshot, e: NodeEventOf<'efm.detach'>): void {
  const b = resolve(w, s, e.backend, 'address');
  if (b === null) return;
  if (pathOf(w, b) === 'promoted') {
    // EFM detaches the primary both when its database failed and when only its agent died.
    if (!s.policy.detachHealthyPrimary) {
      auditInPlace(w, 'event-ignored', b, 'no promotion under way; detaching the only primary would stop writes; the fence/post-promotion hooks will detach it if EFM fails over');
      return;
    }
    send(w, b, (ref) => ({ type: 'DETACH', ref }), `EFM detaches primary ${b} and policy detachHealthyPrimary is on`);
    return;
  }
  send(w, b, (ref) => ({ type: 'DETACH', ref }), `EFM reports ${b} failed or about to stop (efm.detach ${e.nodeType === 'standby' ? 's' : 'p'})`);
}

/**
 * Under fail-closed, a fence hook that could not confirm in time exited 3 and EFM did not
 * promote: the "failed" primary is still EFM's primary. Detaching it when the event is finally
 * decided (Redis or the workers were down) would stop every write with no new primary, so a
 * fence older than its timeout is audited and left alone. Under fail-open EFM went ahead, and a
 * late detach of the failed primary is still right.
 */
export function staleFence(policy: ClusterSnapshot['policy'], e: NodeEventOf<'efm.fence'>, now: Date): string | null {
  if (policy.fenceMode !== 'fail-closed') return null;
  const age = now.getTime() - Date.parse(e.observedAt);
  if (age <= policy.fenceTimeoutMs) return null;
  return `fence for ${e.failedPrimary ?? 'no failed primary'} decided ${Math.round(age / 1000)} s after EFM called it, past the ${policy.fenceTimeoutMs} ms fail-closed timeout: the hook had vetoed the promotion, so the primary is left attached`;
}

export function onFence(w: Work, s: ClusterSnapshot, e: NodeEventOf<'efm.fence'>, now: Date): void {
  const stale = staleFence(s.policy, e, now);
  if (stale !== null) {
    ignore(w, stale);
    return;
  }
  const p = resolveBackend(s, e.newPrimary);
  if (e.failedPrimary === null) {
    ignore(w, `EFM promotes ${e.newPrimary} with no failed primary: nothing to fence`);
    if (p !== null) stepAside(w, 'fence', p, null);
    return;
  }
  const f = resolve(w, s, e.failedPrimary, 'failed primary');
  if (f === null) return;
  send(w, f, (ref) => ({ type: 'DETACH', ref }), `fence: EFM is about to promote ${e.newPrimary}; detach the failed primary ${f} so pgpool sends it nothing`);
  if (p !== null) stepAside(w, 'fence', p, f);
}

export function onPostPromotion(w: Work, s: ClusterSnapshot, e: NodeEventOf<'efm.post-promotion'>): void {
  const p = resolve(w, s, e.newPrimary, 'new primary');
  if (p === null) return;
  if (e.failedPrimary !== null) {
    const f = resolveBackend(s, e.failedPrimary);
    if (f === null) ignore(w, `the failed primary ${e.failedPrimary} is not a backend of cluster ${w.cluster}; nothing to keep out`);
    else if (f !== p) send(w, f, () => ({ type: 'FAILED_PRIMARY' }), `EFM promoted ${p} in place of the failed primary ${f}; keep ${f} out until it is rebuilt`);
  }
  promoteTo(w, p, `EFM promoted ${p} (post-promotion); make it pgpool's primary`);
}

export function onFollowPrimary(w: Work, s: ClusterSnapshot, e: NodeEventOf<'pgpool.follow-primary'>): void {
  const host = parseAddress(e.host)?.host;
  const text = host === undefined ? e.host : formatAddress({ host, port: e.port });
  const b = resolveBackend(s, text) ?? (e.backend === null ? null : resolveBackend(s, e.backend));
  if (b === null) {
    reject(w, text, 'follow-primary node');
    return;
  }
  const newHost = e.newPrimaryHost === null ? undefined : parseAddress(e.newPrimaryHost)?.host;
  const named = newHost === undefined ? null : resolveBackend(s, formatAddress({ host: newHost, port: e.newPrimaryPort ?? undefined }));
  const primary = named ?? currentPrimary(w);
  send(
    w,
    b,
    (ref) => ({ type: 'FOLLOW_PRIMARY', ref }),
    `pgpool marked node ${e.nodeId} (${b}) down after its primary changed to ${primary ?? `node ${e.newPrimaryId ?? '?'}`}; attach it again once it streams from that primary`,
    true,
    primary,
  );
}
