import { transition } from 'xstate';
import type { Action } from '../contracts/actions.ts';
import { formatAddress, parseAddress } from '../contracts/address.ts';
import type { NodeEvent, NodeEventOf } from '../contracts/events.ts';
import {
  backendMachine,
  MachineInvariantError,
  leafPathOf,
  stateNameOf,
  type ActionRef,
  type BackendEvent,
  type BackendSnapshot,
  type LeafPath,
} from './backend-machine.ts';
import type { ClusterSnapshot } from './snapshot.ts';
import { persistBackend, restoreBackend } from './snapshot-actors.ts';
import { expectedFor, resolveBackend } from './views.ts';

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

/** Keeps the dedupe list bounded even under an event storm; the window usually prunes far sooner. */
const MAX_SEEN = 10_000;

interface Work {
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
}

interface Sent {
  from: LeafPath;
  to: LeafPath;
  action: Action | null;
}

type MakeEvent = (ref: ActionRef) => BackendEvent;

function pushAudit(w: Work, a: DecisionAudit): void {
  w.audit.push(w.event === w.decided ? a : { eventId: w.event.eventId, eventType: w.event.type, ...a });
}

function machineOf(w: Work, address: string): BackendSnapshot {
  const m = w.machines.get(address);
  if (!m) throw new MachineInvariantError(`no machine for ${address}`);
  return m;
}

function pathOf(w: Work, address: string): LeafPath {
  return leafPathOf(machineOf(w, address));
}

/** Why a backend machine did not handle an event, in words a DBA reads in the audit trail. */
function ignoredReason(snap: BackendSnapshot, ev: BackendEvent): string {
  const path = leafPathOf(snap);
  const state = stateNameOf(path);
  const { pending, gaveUp } = snap.context;
  if (ev.type === 'OUTCOME') return `no action ${ev.actionId} is in flight for it (a late or repeated outcome)`;
  if (state === 'attention')
    return `it needs attention since ${gaveUp ? `${gaveUp.type} ${gaveUp.actionId} gave up (${gaveUp.reason})` : 'an action gave up'}; only an outcome, a drift report or an operator event moves it`;
  if (pending && 'ref' in ev)
    return `${pending.type} ${pending.actionId} is still in flight for it; no second action until its outcome arrives`;
  switch (ev.type) {
    case 'ATTACH':
      return state === 'promoted'
        ? "it is pgpool's primary; an attach as standby waits for the post-promotion of the new primary"
        : 'already attached and load balanced';
    case 'DETACH':
      return state === 'rebuilding' ? 'already kept out while it is rebuilt' : 'already detached';
    case 'PROMOTE':
      return "already pgpool's primary";
    case 'FOLLOW_PRIMARY':
      return state === 'promoted'
        ? "pgpool reports as down the backend pcpflow expects as primary; the reconciler repairs that drift"
        : 'a failed or former primary stays out of pgpool until EFM attaches it (efm resume)';
    case 'REBUILD_STARTED':
      return "it is pgpool's primary; rebuilding it would stop writes, so pcpflow does not detach it";
    case 'REBUILD_DONE':
      return 'it is not being rebuilt';
    case 'DRIFT': {
      // Say what was seen and what was expected, not only that nothing was done here.
      const exp = expectedFor(state);
      const seen = `pgpool shows it ${ev.observed.status}/${ev.observed.role}`;
      if (!exp) return `${seen}; the machine has no expectation in ${path}`;
      const up = ev.observed.status === 'up' || ev.observed.status === 'waiting';
      const same = up === (exp.status === 'up') && (exp.status === 'down' || ev.observed.role === exp.role);
      return same
        ? `${seen}, as the machine expects (${exp.status}/${exp.role} in ${path}); nothing to repair`
        : `${seen}, the machine expects ${exp.status}/${exp.role} (${path}); no action on this backend itself: the cluster's repair is in the other entries of this decision`;
    }
    case 'FAILED_PRIMARY':
      return 'already out of pgpool and waiting for its rebuild';
    case 'RETRY':
    case 'CLEAR':
      return 'it is not in attention';
    case 'ATTACH_FOLLOWING':
      return state === 'promoted'
        ? "it is pgpool's primary; an attach as standby waits for the post-promotion of the new primary"
        : 'already attached, or already waiting until it streams from the new primary';
    case 'STREAMING':
    case 'AWAIT_STREAM':
      return 'it is not waiting to stream from a new primary';
    case 'STEP_ASIDE':
      return state === 'up' ? `already out of load balancing until it streams from the new primary (${path})` : 'it is not in load balancing';
    case 'REATTACH':
    case 'PEER_PROMOTING':
    case 'DEMOTE':
      return `${ev.type} does not apply in state ${path}`;
  }
}

/**
 * Sends one event to one backend machine through XState's pure `transition()`, records the audit
 * entry, and applies the cluster rule for entering `promoted`.
 */
function send(w: Work, address: string, make: MakeEvent, why: string, reportIgnored = true, primary?: string): Sent {
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
  const [after, returned] = transition(backendMachine, before, ev);
  const from = leafPathOf(before);
  const to = leafPathOf(after);
  const pending = after.context.pending;
  const action = pending && pending.actionId === ref.actionId && before.context.pending?.actionId !== ref.actionId ? pending : null;
  const notes = returned.flatMap((a) =>
    a.type === 'note' && a.params && typeof a.params === 'object' && 'text' in a.params ? [String(a.params.text)] : [],
  );
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
    pushAudit(w, { kind: 'event-ignored', backend: address, from, to, actionIds: [], note: notes.length ? notes.join('; ') : ignoredReason(before, ev) });
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
function waitsFor(w: Work, address: string, primary: string): boolean {
  const m = machineOf(w, address);
  return leafPathOf(m) === 'up.awaitingStream' && m.context.pending?.primary === primary;
}

/**
 * Before EFM promotes `primary`, every attached standby that will have to follow it leaves load
 * balancing, confirmed before the fence hook returns. Once the failed primary is detached pgpool
 * looks for a primary by itself (search_primary_node_timeout) and may adopt the promoted node on
 * its own, without marking the others down when it has no follow_primary_command; with none
 * found it sends writes to its main node, which may be the promoted one. Either way the new
 * primary takes writes through pgpool before pcpflow's promote, while a standby still replaying
 * the dead primary's WAL would serve balanced reads missing them.
 */
function stepAside(w: Work, by: 'fence' | 'remote-pre-promotion', primary: string, failed: string | null): void {
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
function promoteTo(w: Work, address: string, why: string): void {
  const m = machineOf(w, address);
  const pending = m.context.pending;
  const path = leafPathOf(m);
  if (pending && path !== 'promoted') {
    w.deferred = { backend: address, eventId: w.event.eventId, why: why.slice(0, 500) };
    pushAudit(w, {
      kind: 'decision',
      backend: address,
      from: path,
      to: path,
      actionIds: [],
      note: `${why}; deferred: ${pending.type} ${pending.actionId} is in flight, the promote follows its outcome`,
    });
    return;
  }
  send(w, address, (ref) => ({ type: 'PROMOTE', ref }), why);
}

function reject(w: Work, text: string | null, what: string): void {
  const known = w.order.join(', ');
  pushAudit(w, {
    kind: 'event-rejected',
    backend: w.event.backend,
    actionIds: [],
    note: text === null ? `the event names no ${what}` : `${what} ${text} is not a backend of cluster ${w.cluster} (backends: ${known})`,
  });
}

function ignore(w: Work, note: string): void {
  pushAudit(w, { kind: 'event-ignored', backend: w.event.backend, actionIds: [], note });
}

function resolve(w: Work, s: ClusterSnapshot, text: string | null, what: string): string | null {
  const b = text === null ? null : resolveBackend(s, text);
  if (b === null) reject(w, text, what);
  return b;
}

/** The primary a standby must follow now: the promoted backend, or the one whose promote is deferred. */
function currentPrimary(w: Work): string | undefined {
  return w.order.find((a) => pathOf(w, a) === 'promoted') ?? w.deferred?.backend;
}

/**
 * A promotion is in flight from pgpool's promote request until every standby it marked down is
 * back: until then a standby may still follow the old primary, so it is attached only once it
 * streams from the new one.
 */
function promotionInFlight(w: Work): boolean {
  if (w.deferred) return true;
  return w.order.some((a) => {
    const m = machineOf(w, a);
    const t = m.context.pending?.type;
    const path = leafPathOf(m);
    return t === 'promote' || t === 'promote-switchover' || path === 'up.awaitingReattach' || path === 'up.awaitingStream';
  });
}

function onEfmAttach(w: Work, s: ClusterSnapshot, e: NodeEventOf<'efm.attach'>): void {
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

function onEfmDetach(w: Work, s: ClusterSnapshot, e: NodeEventOf<'efm.detach'>): void {
  const b = resolve(w, s, e.backend, 'address');
  if (b === null) return;
  if (pathOf(w, b) === 'promoted') {
    // EFM detaches the primary both when its database failed and when only its agent died.
    if (!s.policy.detachHealthyPrimary) {
      pushAudit(w, {
        kind: 'event-ignored',
        backend: b,
        from: 'promoted',
        to: 'promoted',
        actionIds: [],
        note: 'no promotion under way; detaching the only primary would stop writes; the fence/post-promotion hooks will detach it if EFM fails over',
      });
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

function onFence(w: Work, s: ClusterSnapshot, e: NodeEventOf<'efm.fence'>, now: Date): void {
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

function onPostPromotion(w: Work, s: ClusterSnapshot, e: NodeEventOf<'efm.post-promotion'>): void {
  const p = resolve(w, s, e.newPrimary, 'new primary');
  if (p === null) return;
  if (e.failedPrimary !== null) {
    const f = resolveBackend(s, e.failedPrimary);
    if (f === null) ignore(w, `the failed primary ${e.failedPrimary} is not a backend of cluster ${w.cluster}; nothing to keep out`);
    else if (f !== p) send(w, f, () => ({ type: 'FAILED_PRIMARY' }), `EFM promoted ${p} in place of the failed primary ${f}; keep ${f} out until it is rebuilt`);
  }
  promoteTo(w, p, `EFM promoted ${p} (post-promotion); make it pgpool's primary`);
}

function onFollowPrimary(w: Work, s: ClusterSnapshot, e: NodeEventOf<'pgpool.follow-primary'>): void {
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

function onOutcome(w: Work, s: ClusterSnapshot, e: NodeEventOf<'action.outcome'>): void {
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
    routeAs(w, s, waiting.event);
  }
}

/** Decides a kept event inside the current decision, under its own event id, then restores the current one. */
function routeAs(w: Work, s: ClusterSnapshot, kept: Work['event']): void {
  const current = w.event;
  w.event = kept;
  route(w, s);
  w.event = current;
}

function onDrift(w: Work, s: ClusterSnapshot, e: NodeEventOf<'reconciler.drift'>): void {
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
  const observedPrimary = (e.observed.status === 'up' || e.observed.status === 'waiting') && e.observed.role === 'primary';
  const expectedPrimary = w.order.find((a) => pathOf(w, a) === 'promoted');
  const why = `reconciler: pgpool shows node ${e.nodeId} (${b}) ${e.observed.status}/${e.observed.role}, expected ${e.expected}`;
  if (observedPrimary && expectedPrimary !== undefined && expectedPrimary !== b)
    send(w, expectedPrimary, (ref) => ({ type: 'DRIFT', ref, observed: { status: 'up', role: 'standby' } }), `${why}; make ${expectedPrimary} pgpool's primary again`);
  send(w, b, (ref) => ({ type: 'DRIFT', ref, observed: e.observed }), why);
}

const byOperator = (e: { user: string; reason: string }): string => `operator ${e.user}${e.reason ? ` (reason: ${e.reason})` : ''}`;

/**
 * `pcpflow pcp attach|detach|promote`: the same machine events as EFM's. When pcpflow already has
 * the backend where the operator asks, the command re-asserts it as a drift report would, so the
 * executor checks pgpool and acts only if pgpool differs, and the operator gets pgpool's answer.
 */
function onOperatorCommand(w: Work, s: ClusterSnapshot, e: NodeEventOf<'operator.command'>): void {
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

function onMaintenance(w: Work, s: ClusterSnapshot, e: NodeEventOf<'operator.maintenance'>): void {
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
        w.audit.push({ kind: 'event-ignored', backend: b, from: path, to: path, actionIds: [], note: `${b} is already in maintenance since ${current.since} (${current.by})` });
        continue;
      }
      w.maintenance = [...w.maintenance, { backend: b, since: e.observedAt, by: e.user, reason: e.reason }];
      w.audit.push({
        kind: 'decision',
        backend: b,
        from: path,
        to: path,
        actionIds: [],
        note: `${who} puts ${b} in maintenance: pcpflow holds it ${path}; EFM's requests for it are kept until maintenance ends, and the reconciler reports drift without acting`,
      });
      continue;
    }
    if (!current) {
      w.audit.push({ kind: 'event-ignored', backend: b, from: path, to: path, actionIds: [], note: `${b} is not in maintenance` });
      continue;
    }
    w.maintenance = w.maintenance.filter((m) => m.backend !== b);
    const kept = w.heldEvents.find((h) => h.backend === b);
    w.audit.push({
      kind: 'decision',
      backend: b,
      from: path,
      to: path,
      actionIds: [],
      note: `${who} ends maintenance of ${b} (since ${current.since}): ${kept ? `deciding the request kept meanwhile (${kept.event.type} ${kept.event.eventId})` : 'no request was kept meanwhile'}; the reconciler repairs any remaining difference`,
    });
    if (kept) {
      w.heldEvents = w.heldEvents.filter((h) => h !== kept);
      routeAs(w, s, kept.event);
    }
  }
}

function onAttentionClear(w: Work, s: ClusterSnapshot, e: NodeEventOf<'operator.attention-clear'>): void {
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

function onRetry(w: Work, s: ClusterSnapshot, e: NodeEventOf<'reconciler.retry'>): void {
  const b = resolve(w, s, e.backend, 'address');
  if (b === null) return;
  const gaveUp = machineOf(w, b).context.gaveUp;
  if (pathOf(w, b) !== 'attention' || gaveUp?.actionId !== e.actionId) {
    ignore(w, `${b} is no longer in attention for ${e.actionId}; nothing to retry`);
    return;
  }
  send(w, b, (ref) => ({ type: 'RETRY', ref }), `reconciler: pgpool answers again and the cool-down has passed; retry ${gaveUp.type} of ${b} that gave up (${gaveUp.reason})`);
}

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

function route(w: Work, s: ClusterSnapshot): void {
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
      return onOutcome(w, s, e);
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
