import type { Queue } from 'bullmq';
import type { Action } from '../contracts/actions.ts';
import type { AuditBody } from '../contracts/audit.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import { keys, type EventResult } from '../contracts/keys.ts';
import type { AuditStore, LinkPlan } from '../audit/store.ts';
import { formatHead, linkRecords } from '../audit/chain.ts';
import { decide, decisionBodies, encodeSnapshot, policyOf, withPolicy, type ClusterSnapshot } from '../machines/index.ts';
import type { PcpOps } from '../pcp/index.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { ActionDispatcher, jobFor, type PendingJob } from './action-dispatch.ts';
import { commitDecision } from './commit-decision.ts';
import { planBootstrap } from './decider-bootstrap.ts';
import { parseIntakeEntry, type IntakeEntry } from './intake.ts';
import { loadSnapshot, type StoredSnapshot } from './snapshot-store.ts';
import type { Metrics } from './metrics.ts';
import { DeciderConflictError } from './errors.ts';

/** How long an event id is remembered as decided (matches how long the audit is meant to be kept). */
export const SEEN_TTL_S = 90 * 86_400;
/** Every how many snapshot versions a decision's audit record carries the whole snapshot. */
export const SNAPSHOT_EVERY = 20;
/** How long a synchronous hook can still read what became of its event or action. */
export const RESULT_TTL_S = 3_600;

export interface DeciderDeps {
  redis: RedisClient;
  prefix: string;
  audit: AuditStore;
  queue: Queue;
  pcpFor: (cluster: ClusterConfig) => PcpOps;
  logger: Logger;
  metrics?: Metrics;
  now?: () => Date;
}

/** How one drain of a cluster's intake ended. */
export type DrainResult =
  /** No snapshot, and pgpool could not be asked for one: the entries wait in the intake. */
  | { outcome: 'no-snapshot-yet'; reason: string }
  /** Another fleet member committed first; `done` entries were decided before that. */
  | { outcome: 'lost-race'; done: number }
  /** `done` entries decided up to `lastId`; `more` when the batch was full and more may wait. */
  | { outcome: 'drained'; done: number; more: boolean; lastId: string };

/** A drain's committed actions, and the pending list's length after its last commit. */
interface Committed {
  jobs: PendingJob[];
  listLength: number;
}

/** One step's writes besides the snapshot: what `commit` hands to the commit script. */
interface StepWrites {
  bodies: AuditBody[];
  actions: Action[];
  /** The decided event (its seen marker and, with `result`, what its hook reads); null for none. */
  eventId: string | null;
  result: EventResult | null;
  /** The audit head already read (bootstrap), and where records link on (after a reset record). */
  knownHead?: string | null;
  knownPlan?: LinkPlan;
}

/** How many times a commit relinks onto an audit head that executors keep moving before it gives up. */
const HEAD_RETRIES = 50;

/**
 * Decides one cluster's intake entries strictly in stream order. Each entry is one commit:
 * snapshot + position + audit + actions + results, all or nothing, guarded by the snapshot
 * version and the audit chain head; a lost race reloads and carries on from where the winner
 * left off, so however many deciders run, every entry is decided exactly once.
 *
 * The state this decider committed last is kept in memory and decided from without reading it
 * back: the commit's version check is what makes that safe (another writer → reload). The actions
 * of a drain go to BullMQ once, at its end.
 */
export class ClusterDecider {
  private readonly now: () => Date;
  private readonly dispatcher: ActionDispatcher;
  private known: StoredSnapshot | null = null;

  constructor(
    readonly cluster: ClusterConfig,
    private readonly deps: DeciderDeps,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.dispatcher = new ActionDispatcher(deps.redis, deps.queue, deps.prefix, cluster.name);
  }

  private get prefix(): string {
    return this.deps.prefix;
  }

  /** Loads the stored state, creating it from pgpool's live view the first time. */
  async state(): Promise<StoredSnapshot | null> {
    const s = await this.stateOrReason();
    return 'reason' in s ? null : s;
  }

  private async stateOrReason(): Promise<StoredSnapshot | { reason: string }> {
    if (this.known) return this.known;
    const stored = await loadSnapshot(this.deps.redis, this.prefix, this.cluster.name);
    if (stored) return stored;
    const plan = await planBootstrap(this.cluster, this.deps, this.now());
    if (!plan.ready) return { reason: plan.reason };
    const { snapshot, body, headText, plan: link } = plan.step;
    try {
      return await this.commit(null, snapshot, '0-0', { bodies: [body], actions: [], eventId: null, result: null, knownHead: headText, knownPlan: link }, { jobs: [], listLength: 0 });
    } catch (err) {
      if (!(err instanceof DeciderConflictError)) throw err;
      // Another fleet member bootstrapped first: use its state.
      return (await loadSnapshot(this.deps.redis, this.prefix, this.cluster.name)) ?? { reason: 'another fleet member bootstrapped first and its state is gone again' };
    }
  }

  /**
   * Decides every entry after the stored position (up to `max`), then dispatches what is pending.
   * `prefetched`: entries the caller already read after position `after` (the wake-up's XREAD),
   * used instead of reading them again when `after` is where this cluster's state stands.
   */
  async drain(max = 100, prefetched?: { after: string; entries: [string, string[]][] }): Promise<DrainResult> {
    const loaded = await this.stateOrReason();
    if ('reason' in loaded) return { outcome: 'no-snapshot-yet', reason: loaded.reason };
    let state = loaded;
    this.known = loaded;
    const reading = performance.now();
    const raw =
      prefetched && prefetched.after === state.lastId && prefetched.entries.length > 0
        ? prefetched.entries.slice(0, max)
        : await this.deps.redis.xrange(keys.intake(this.prefix, this.cluster.name), `(${state.lastId}`, '+', 'COUNT', max);
    const entries = raw.map(([id, fields]) => parseIntakeEntry(id, fields));
    this.deps.metrics?.deciderPhaseSeconds.observe({ phase: 'read' }, (performance.now() - reading) / 1000);
    // Event ids decided in this drain: a redelivery within the batch is a duplicate without asking
    // Redis. One decided before is found by the commit script (its seen marker), see decideEntry.
    const seen = new Set<string>();
    let done = 0;
    let conflict = false;
    const committed: Committed = { jobs: [], listLength: 0 };
    try {
      for (const entry of entries) {
        // The committed state is exactly what we wrote: no need to read it back.
        state = await this.decideEntry(state, entry, committed, seen);
        this.known = state;
        done++;
      }
    } catch (err) {
      this.known = null;
      if (!(err instanceof DeciderConflictError)) throw err;
      conflict = true; // another fleet member advanced this cluster; the caller comes back
    }
    const started = performance.now();
    const { jobs, listLength } = committed;
    // The list holds only this drain's actions: hand them over without reading it back.
    if (done > 0 && listLength === jobs.length) {
      if (jobs.length) await this.dispatcher.dispatch(jobs);
    } else await this.dispatcher.dispatchPending();
    if (jobs.length) this.deps.metrics?.deciderPhaseSeconds.observe({ phase: 'dispatch' }, (performance.now() - started) / 1000);
    if (conflict) return { outcome: 'lost-race', done };
    return { outcome: 'drained', done, more: entries.length === max, lastId: state.lastId };
  }

  private async decideEntry(state: StoredSnapshot, entry: IntakeEntry, committed: Committed, seen: Set<string>): Promise<StoredSnapshot> {
    const started = performance.now();
    const at = this.now();
    const cluster = this.cluster.name;
    const m = this.deps.metrics;
    m?.intakeWaitSeconds.observe(Math.max(0, Date.now() - Number(entry.id.split('-')[0])) / 1000);
    // The record of an entry that is audited but not decided (refused, foreign, repeated, stale).
    const only = (kind: AuditBody['kind'], note: string, extra: Partial<AuditBody> = {}): AuditBody => ({
      kind,
      cluster,
      at: at.toISOString(),
      backend: null,
      note,
      ...extra,
    });
    const recordOnly = (body: AuditBody) => this.commit(state, state.snapshot, entry.id, { bodies: [body], actions: [], eventId: null, result: null }, committed);
    switch (entry.kind) {
      case 'rejected-by-hook': {
        const r = entry.rejection;
        this.deps.metrics?.events.inc({ cluster, disposition: 'rejected' });
        return recordOnly(
          only('event-rejected', `The ${r.source} hook refused its input (exit 2) and published nothing: ${r.reason}.`, {
            payload: { argv: r.argv, at: r.at },
          }),
        );
      }
      case 'invalid':
        this.deps.metrics?.events.inc({ cluster, disposition: 'rejected' });
        return recordOnly(
          only('event-rejected', `Intake entry ${entry.id} was not a valid event (${entry.reason}); it was skipped.`, {
            payload: { raw: entry.raw },
          }),
        );
      case 'event':
        break;
    }
    const event = entry.event;
    const about = { eventId: event.eventId, eventType: event.type, backend: event.backend };
    if (event.cluster !== cluster)
      return recordOnly(only('event-rejected', `Event ${event.eventId} names cluster ${event.cluster} but arrived in ${cluster}'s intake; it was not decided.`, about));
    const duplicate = (): Promise<StoredSnapshot> => {
      this.deps.metrics?.events.inc({ cluster, disposition: 'duplicate' });
      return recordOnly(only('event-duplicate', `Event ${event.eventId} (${event.type}) was already decided; this redelivery changes nothing.`, about));
    };
    if (seen.has(event.eventId)) return duplicate();
    // The policy in force is part of the decision's input, so it is in the snapshot replay reads.
    const before = withPolicy(state.snapshot, policyOf(this.cluster.fence));
    const deciding = performance.now();
    const decision = decide(before, event, at);
    m?.deciderPhaseSeconds.observe({ phase: 'decide' }, (performance.now() - deciding) / 1000);
    // The full snapshot is a checkpoint every SNAPSHOT_EVERY versions and whenever the policy
    // changed; between checkpoints replay carries the state forward decision by decision, so the
    // trail stays small even when the dedupe window holds thousands of events.
    const checkpoint = before !== state.snapshot || Number(state.version) % SNAPSHOT_EVERY === 0;
    const bodies = decisionBodies(cluster, event, checkpoint ? before : null, decision, at);
    const result: EventResult = {
      // A synchronous hook (the fence) waits for the actions in flight its event depends on too.
      actionIds: [...decision.actions.map((a) => a.actionId), ...decision.awaits],
      note: decision.audit.map((a) => a.note).join(' '),
    };
    const next = await this.commitStep(state, decision.snapshot, entry.id, { bodies, actions: decision.actions, eventId: event.eventId, result }, committed);
    // Its seen marker exists: decided before (a redelivery). Nothing of this decision was written.
    if (next === 'decided-before') return duplicate();
    seen.add(event.eventId);
    this.deps.metrics?.events.inc({ cluster, disposition: decision.audit[0]?.kind ?? 'decision' });
    this.deps.metrics?.decisionSeconds.observe((performance.now() - started) / 1000);
    for (const a of decision.audit) this.deps.logger.info({ cluster, eventId: event.eventId, backend: a.backend, from: a.from, to: a.to }, a.note);
    return next;
  }

  /** A step with no event of its own (a bootstrap, an entry only audited): never found decided before. */
  private async commit(state: StoredSnapshot | null, snapshot: ClusterSnapshot, intakeId: string, w: StepWrites, committed: Committed): Promise<StoredSnapshot> {
    const next = await this.commitStep(state, snapshot, intakeId, w, committed);
    if (next === 'decided-before') throw new DeciderConflictError(`cluster ${this.cluster.name}: intake entry ${intakeId} was decided before`);
    return next;
  }

  /** Commits one step; 'decided-before' (nothing written) when its event's seen marker exists. */
  private async commitStep(state: StoredSnapshot | null, snapshot: ClusterSnapshot, intakeId: string, w: StepWrites, committed: Committed): Promise<StoredSnapshot | 'decided-before'> {
    const cluster = this.cluster.name;
    const m = this.deps.metrics;
    const version = state ? String(Number(state.version) + 1) : '1';
    const jobs = w.actions.map((a): PendingJob => {
      const job = jobFor(this.cluster, a);
      return { text: JSON.stringify(job), job };
    });
    // The head this process saw last is usually still the head; the commit checks it either way.
    // An executor append of this process still in flight (its outcome event is what woke us) moves
    // it: wait for its answer first.
    if (w.knownHead === undefined) await this.deps.audit.settled(cluster);
    let headText = w.knownHead !== undefined ? w.knownHead : (this.deps.audit.lastSeenHead(cluster) ?? (await this.deps.redis.get(keys.auditHead(this.prefix, cluster))));
    let plan = w.knownPlan ?? (await this.deps.audit.linkPlan(cluster, headText));
    for (let tries = 0; tries < HEAD_RETRIES; tries++) {
      const { records, head } = linkRecords(plan.base, plan.reset ? [plan.reset, ...w.bodies] : w.bodies);
      const committing = performance.now();
      const outcome = await commitDecision(this.deps.redis, {
        prefix: this.prefix,
        cluster,
        expected: { version: state?.version ?? null, head: headText },
        next: { version, snapshot: encodeSnapshot(snapshot), lastId: intakeId, head: formatHead(head) },
        records,
        actions: jobs.map((j) => j.text),
        seen: w.eventId !== null ? { eventId: w.eventId, ttlS: SEEN_TTL_S } : null,
        result: w.eventId !== null && w.result ? { eventId: w.eventId, value: w.result, ttlS: RESULT_TTL_S } : null,
        streamMaxLen: this.cluster.audit.streamMaxLen,
      });
      m?.deciderPhaseSeconds.observe({ phase: 'commit' }, (performance.now() - committing) / 1000);
      switch (outcome.status) {
        case 'version-moved':
          throw new DeciderConflictError(`cluster ${cluster}: another decider committed first`);
        case 'seen':
          return 'decided-before';
        case 'head-moved':
          // An executor appended meanwhile: same decision, linked onto the new head.
          headText = await this.deps.redis.get(keys.auditHead(this.prefix, cluster));
          plan = await this.deps.audit.linkPlan(cluster, headText);
          continue;
        case 'committed':
          break;
      }
      this.deps.audit.noteHead(cluster, head);
      committed.jobs.push(...jobs);
      committed.listLength = outcome.pending;
      await this.deps.audit.mirror(cluster, records).catch((err: unknown) => this.deps.logger.error({ err, cluster }, 'audit JSONL mirror failed'));
      return { version, lastId: intakeId, snapshot };
    }
    throw new DeciderConflictError(`cluster ${cluster}: the audit head moved under ${HEAD_RETRIES} commits in a row`);
  }

  /** Dispatches actions a commit left in the pending list (this decider's, or a crashed one's). */
  dispatchPending(): Promise<number> {
    return this.dispatcher.dispatchPending();
  }
}
