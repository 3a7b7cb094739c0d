import type { NodeEventOf } from '../contracts/events.ts';
import { auditInPlace, machineOf, pathOf, resolve, type Work } from './decision.ts';
import { promoteTo } from './promotion.ts';
import { send } from './send.ts';
import type { ClusterSnapshot } from './snapshot.ts';
import { stateNameOf } from './state-path.ts';

/** An operator's commands: pcp attach/detach/promote, maintenance on/off, attention clear. */

const byOperator = (e: { user: string; reason: string }): string => `operator ${e.user}${e.reason ? ` (reason: ${e.reason})` : ''}`;

/**
 * `pcpflow pcp attach|detach|promote`: the same machine events as EFM's. When pcpflow already has
 * the backend where the operator asks, the command re-asserts it as a drift report would, so the
 * executor checks pgpool and acts only if pgpool differs, and the operator gets pgpool's answer.
 */
export function onOperatorCommand(w: Work, s: ClusterSnapshot, e: NodeEventOf<'operator.command'>): void {
  const b = resolve(w, s, e.backend, 'address');
  if (b === null) return;
  const who = byOperator(e);
  if (pathOf(w, b) === 'attention')
    send(w, b, () => ({ type: 'CLEAR' }), `${who} runs ${e.command} on ${b}, which is in attention: the action that gave up is set aside`);
  const state = stateNameOf(pathOf(w, b));
  switch (e.command) {
    case 'attach':
      if (state === 'up')
        send(w, b, (ref) => ({ type: 'DRIFT', ref, observed: { status: 'down', role: 'standby' } }), `${who} attaches ${b}, which pcpflow already has attached: the executor checks pgpool and attaches only if needed`);
      else send(w, b, (ref) => ({ type: 'ATTACH', ref }), `${who} attaches ${b} as a standby`);
      return;
    case 'detach':
      if (state === 'detached' || state === 'rebuilding')
        send(w, b, (ref) => ({ type: 'DRIFT', ref, observed: { status: 'up', role: 'standby' } }), `${who} detaches ${b}, which pcpflow already keeps out: the executor checks pgpool and detaches only if needed`);
      else send(w, b, (ref) => ({ type: 'DETACH', ref }), `${who} detaches ${b}`);
      return;
    case 'promote':
      if (state === 'promoted')
        send(w, b, (ref) => ({ type: 'DRIFT', ref, observed: { status: 'up', role: 'standby' } }), `${who} makes ${b} pgpool's primary, which pcpflow already expects: the executor checks pgpool and promotes only if needed`);
      else promoteTo(w, b, `${who} makes ${b} pgpool's primary`);
      return;
  }
}

export function onMaintenance(w: Work, s: ClusterSnapshot, e: NodeEventOf<'operator.maintenance'>): void {
  let targets: string[];
  if (e.all) targets = [...w.order];
  else {
    const b = resolve(w, s, e.backend, 'address');
    if (b === null) return;
    targets = [b];
  }
  const who = byOperator(e);
  for (const b of targets) {
    const path = pathOf(w, b);
    const current = w.maintenance.find((m) => m.backend === b);
    if (e.on) {
      if (current) {
        auditInPlace(w, 'event-ignored', b, `${b} is already in maintenance since ${current.since} (${current.by})`);
        continue;
      }
      w.maintenance = [...w.maintenance, { backend: b, since: e.observedAt, by: e.user, reason: e.reason }];
      auditInPlace(
        w,
        'decision',
        b,
        `${who} puts ${b} in maintenance: pcpflow holds it ${path}; EFM's requests for it are kept until maintenance ends, and the reconciler reports drift without acting`,
      );
      continue;
    }
    if (!current) {
      auditInPlace(w, 'event-ignored', b, `${b} is not in maintenance`);
      continue;
    }
    w.maintenance = w.maintenance.filter((m) => m.backend !== b);
    const kept = w.heldEvents.find((h) => h.backend === b);
    auditInPlace(
      w,
      'decision',
      b,
      `${who} ends maintenance of ${b} (since ${current.since}): ${kept ? `deciding the request kept meanwhile (${kept.event.type} ${kept.event.eventId})` : 'no request was kept meanwhile'}; the reconciler repairs any remaining difference`,
    );
    if (kept) {
      w.heldEvents = w.heldEvents.filter((h) => h !== kept);
      w.decideKept(kept.event);
    }
  }
}

export function onAttentionClear(w: Work, s: ClusterSnapshot, e: NodeEventOf<'operator.attention-clear'>): void {
  const b = resolve(w, s, e.backend, 'address');
  if (b === null) return;
  const gaveUp = machineOf(w, b).context.gaveUp;
  send(
    w,
    b,
    () => ({ type: 'CLEAR' }),
    `${byOperator(e)} clears the attention on ${b}${gaveUp ? ` (${gaveUp.type} ${gaveUp.actionId} gave up: ${gaveUp.reason})` : ''}: pcpflow takes that action's intent as the target again; the reconciler acts on any difference pgpool still shows`,
  );
}
