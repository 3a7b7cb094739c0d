import type { Queue } from 'bullmq';
import type { Action } from '../contracts/actions.ts';
import type { AuditBody } from '../contracts/audit.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import { keys, type EventResult } from '../contracts/keys.ts';
import { formatAddress } from '../contracts/address.ts';
import type { AuditStore, LinkPlan } from '../audit/store.ts';
import { formatHead, linkRecords, parseHead } from '../audit/chain.ts';
import { decide, decisionBodies, encodeSnapshot, initialSnapshot, policyOf, withPolicy, type ClusterSnapshot } from '../machines/index.ts';
import { callBudgetMs, type PcpOps } from '../pcp/index.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { COMMIT_DECISION_LUA } from './lua/scripts.ts';
import { runScript } from './lua/run-script.ts';
import { parseIntakeEntry, type IntakeEntry } from './intake.ts';
import { loadSnapshot, type StoredSnapshot } from './snapshot-store.ts';
import { ActionJobSchema, type ActionJob } from './topology.ts';
import { backendListMismatches, nodeForBackend } from './backend-list.ts';
import type { Metrics } from './metrics.ts';

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

export class DeciderConflict extends Error {}

export interface DrainResult {
  done: number;
  /** The batch was full: more entries may be waiting. */
  more: boolean;
  /** The position after this drain, or null when unknown (lost a race, or not bootstrapped). */
  lastId: string | null;
}

/**
 * Decides one cluster's intake entries strictly in stream order. Each entry is one commit:
 * snapshot + position + audit + actions + results, all or nothing, guarded by the snapshot
 * version and the audit chain head; a lost race reloads and carries on from where the winner
 * left off, so however many deciders run, every entry is decided exactly once.
 */
export class ClusterDecider {
  private readonly now: () => Date;

  constructor(
    readonly cluster: ClusterConfig,
    private readonly deps: DeciderDeps,
  ) {
    this.now = deps.now ?? (() => new Date());
  }

  private get prefix(): string {
    return this.deps.prefix;
  }

  /** Loads the stored state, creating it from pgpool's live view the first time. */
  async state(): Promise<StoredSnapshot | null> {
    const stored = await loadSnapshot(this.deps.redis, this.prefix, this.cluster.name);
    if (stored) return stored;
    return this.bootstrap();
  }

  private async bootstrap(): Promise<StoredSnapshot | null> {
    let observed;
    try {
      observed = await this.deps.pcpFor(this.cluster).nodes({ deadlineMs: callBudgetMs(this.cluster) });
    } catch (err) {
      this.deps.logger.warn({ cluster: this.cluster.name, err }, 'cannot bootstrap: pgpool unreachable; events wait in the intake');
      return null;
    }
    const mismatches = backendListMismatches(this.cluster, observed.nodes);
    for (const m of mismatches) this.deps.logger.warn({ cluster: this.cluster.name }, m);
    const backends = this.cluster.backends.map((b) => {
      const node = nodeForBackend(b, observed.nodes);
      return {
        address: formatAddress({ host: b.address, port: b.port }),
        role: node?.role ?? ('standby' as const),
        attached: node ? node.status === 'up' || node.status === 'waiting' : false,
      };
    });
    const snapshot = initialSnapshot({
      cluster: this.cluster.name,
      backends,
      policy: policyOf(this.cluster.fence),
    });
    const table = backends.map((b) => `${b.address} ${b.role} ${b.attached ? 'attached' : 'detached'}`).join('; ');
    const headText = await this.deps.redis.get(keys.auditHead(this.prefix, this.cluster.name));
    const plan = await this.deps.audit.linkPlan(this.cluster.name, headText);
    const redisSeq = parseHead(headText).seq;
    const lost = plan.reset !== null || redisSeq > 0;
    if (lost)
      this.deps.logger.error(
        { cluster: this.cluster.name, auditSeqInRedis: redisSeq, anchorSeq: plan.reset ? plan.base.seq : null },
        `the decision state of cluster ${this.cluster.name} is gone from Redis; re-bootstrapping from pgpool's live view`,
      );
    const why = lost
      ? `The decision state of cluster ${this.cluster.name} was gone from Redis${plan.reset ? ` along with audit records after seq ${plan.base.seq}` : ` while its audit chain (seq ${redisSeq}) was not`}: EFM events decided before are not replayed; re-bootstrapped`
      : `No decision state existed for cluster ${this.cluster.name}; started`;
    const body: AuditBody = {
      kind: 'decision',
      cluster: this.cluster.name,
      at: this.now().toISOString(),
      backend: null,
      to: 'bootstrapped',
      endpoint: observed.endpoint,
      note: `${why} from pgpool's live view at ${observed.endpoint}: ${table}.${mismatches.map((m) => ` Warning: ${m}.`).join('')}`,
      // Structured too, so a timeline knows each backend's first state and pgpool's view of it.
      payload: { bootstrap: backends },
      snapshot,
    };
    try {
      return await this.commit(null, snapshot, '0-0', [body], [], null, null, undefined, headText, plan);
    } catch (err) {
      // Another fleet member bootstrapped first: use its state.
      if (err instanceof DeciderConflict) return loadSnapshot(this.deps.redis, this.prefix, this.cluster.name);
      throw err;
    }
  }

  /** Decides every entry after the stored position (up to `max`); returns how many it consumed. */
  async drain(max = 100): Promise<DrainResult> {
    let state = await this.state();
    if (!state) return { done: 0, more: false, lastId: null };
    const entries = await this.deps.redis.xrange(keys.intake(this.prefix, this.cluster.name), `(${state.lastId}`, '+', 'COUNT', max);
    let done = 0;
    let conflict = false;
    for (const [id, fields] of entries) {
      try {
        // The committed state is exactly what we wrote: no need to read it back.
        state = await this.decideEntry(state, parseIntakeEntry(id, fields));
        done++;
      } catch (err) {
        if (!(err instanceof DeciderConflict)) throw err;
        conflict = true; // another fleet member advanced this cluster; the caller comes back
        break;
      }
    }
    await this.dispatchPending();
    return { done, more: !conflict && entries.length === max, lastId: conflict ? null : state.lastId };
  }

  private async decideEntry(state: StoredSnapshot, entry: IntakeEntry): Promise<StoredSnapshot> {
    const started = performance.now();
    const at = this.now();
    const cluster = this.cluster.name;
    // The record of an entry that is audited but not decided (refused, foreign, repeated, stale).
    const only = (kind: AuditBody['kind'], note: string, extra: Partial<AuditBody> = {}): AuditBody => ({
      kind,
      cluster,
      at: at.toISOString(),
      backend: null,
      note,
      ...extra,
    });
    switch (entry.kind) {
      case 'rejected-by-hook': {
        const r = entry.rejection;
        const body = only('event-rejected', `The ${r.source} hook refused its input (exit 2) and published nothing: ${r.reason}.`, {
          payload: { argv: r.argv, at: r.at },
        });
        this.deps.metrics?.events.inc({ cluster, disposition: 'rejected' });
        return this.commit(state, state.snapshot, entry.id, [body], [], null, null);
      }
      case 'invalid': {
        const body = only('event-rejected', `Intake entry ${entry.id} was not a valid event (${entry.reason}); it was skipped.`, {
          payload: { raw: entry.raw },
        });
        this.deps.metrics?.events.inc({ cluster, disposition: 'rejected' });
        return this.commit(state, state.snapshot, entry.id, [body], [], null, null);
      }
      case 'event':
        break;
    }
    const event = entry.event;
    const about = { eventId: event.eventId, eventType: event.type, backend: event.backend };
    if (event.cluster !== cluster) {
      const body = only('event-rejected', `Event ${event.eventId} names cluster ${event.cluster} but arrived in ${cluster}'s intake; it was not decided.`, about);
      return this.commit(state, state.snapshot, entry.id, [body], [], null, null);
    }
    const seenKey = keys.seen(this.prefix, cluster, event.eventId);
    // One round trip for both reads; the commit's compare-and-set catches a head that moves after.
    const [seen, head] = (await this.deps.redis.pipeline().exists(seenKey).get(keys.auditHead(this.prefix, cluster)).exec()) ?? [];
    if (seen?.[0] || head?.[0]) throw seen?.[0] ?? head?.[0];
    const headText = (head?.[1] as string | null | undefined) ?? null;
    if (seen?.[1] === 1) {
      const body = only('event-duplicate', `Event ${event.eventId} (${event.type}) was already decided; this redelivery changes nothing.`, about);
      this.deps.metrics?.events.inc({ cluster, disposition: 'duplicate' });
      return this.commit(state, state.snapshot, entry.id, [body], [], null, null);
    }
    // The policy in force is part of the decision's input, so it is in the snapshot replay reads.
    const before = withPolicy(state.snapshot, policyOf(this.cluster.fence));
    const decision = decide(before, event, at);
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
    const next = await this.commit(state, decision.snapshot, entry.id, bodies, decision.actions, seenKey, result, event.eventId, headText);
    this.deps.metrics?.events.inc({ cluster, disposition: decision.audit[0]?.kind ?? 'decision' });
    this.deps.metrics?.decisionSeconds.observe((performance.now() - started) / 1000);
    for (const a of decision.audit) this.deps.logger.info({ cluster, eventId: event.eventId, backend: a.backend, from: a.from, to: a.to }, a.note);
    return next;
  }

  private jobFor(action: Action): ActionJob {
    const t = this.cluster.timeouts;
    if (action.type === 'await-streaming') {
      const w = this.cluster.streamCheck;
      return ActionJobSchema.parse({
        action,
        retry: this.cluster.retry,
        verifyMs: w.deadlineMs,
        pollIntervalMs: w.pollIntervalMs,
        deadlineMs: w.deadlineMs + t.connectMs * 2 + t.readMs,
      });
    }
    return ActionJobSchema.parse({
      action,
      retry: this.cluster.retry,
      verifyMs: t.verifyMs,
      deadlineMs: t.connectMs + t.readMs * 4 + t.verifyMs,
    });
  }

  private async commit(
    state: StoredSnapshot | null,
    snapshot: ClusterSnapshot,
    intakeId: string,
    bodies: AuditBody[],
    actions: Action[],
    seenKey: string | null,
    result: EventResult | null,
    eventId?: string,
    knownHead?: string | null,
    knownPlan?: LinkPlan,
  ): Promise<StoredSnapshot> {
    const cluster = this.cluster.name;
    const headText = knownHead !== undefined ? knownHead : await this.deps.redis.get(keys.auditHead(this.prefix, cluster));
    const plan = knownPlan ?? (await this.deps.audit.linkPlan(cluster, headText));
    const { records, head } = linkRecords(plan.base, plan.reset ? [plan.reset, ...bodies] : bodies);
    const version = state ? String(Number(state.version) + 1) : '1';
    const pendingTexts = actions.map((a) => JSON.stringify(this.jobFor(a)));
    const ok = await runScript(
      this.deps.redis,
      COMMIT_DECISION_LUA,
      [
        keys.snapshot(this.prefix, cluster),
        keys.audit(this.prefix, cluster),
        keys.auditHead(this.prefix, cluster),
        keys.pendingActions(this.prefix, cluster),
        // "none" is the snapshot key again, never '': see commit-decision.lua.
        seenKey ?? keys.snapshot(this.prefix, cluster),
        result && eventId ? keys.eventResult(this.prefix, cluster, eventId) : keys.snapshot(this.prefix, cluster),
      ],
      [
        state?.version ?? '',
        version,
        encodeSnapshot(snapshot),
        intakeId,
        headText ?? '',
        formatHead(head),
        JSON.stringify(result ?? {}),
        RESULT_TTL_S,
        SEEN_TTL_S,
        this.cluster.audit.streamMaxLen,
        keys.auditChannel(this.prefix),
        cluster,
        records.length,
        ...records.map((r) => JSON.stringify(r)),
        actions.length,
        ...pendingTexts,
      ],
    );
    if (ok !== 1) throw new DeciderConflict(`cluster ${cluster}: snapshot or audit head moved`);
    this.deps.audit.noteHead(cluster, head);
    if (pendingTexts.length) await this.dispatch(pendingTexts);
    await this.deps.audit.mirror(cluster, records).catch((err: unknown) => this.deps.logger.error({ err, cluster }, 'audit JSONL mirror failed'));
    return { version, lastId: intakeId, snapshot };
  }

  /**
   * Hands committed actions to BullMQ. The job id is the action id, so a crash between the add
   * and the list trim re-adds the same job id, which BullMQ ignores while the job is kept.
   */
  async dispatchPending(): Promise<number> {
    const pending = await this.deps.redis.lrange(keys.pendingActions(this.prefix, this.cluster.name), 0, 99);
    if (pending.length) await this.dispatch(pending);
    return pending.length;
  }

  /**
   * Adds the jobs, then removes exactly those list items. Safe against a crash in between (the
   * next drain re-adds the same job ids, which BullMQ ignores while the jobs are kept) and against
   * two deciders dispatching at once (LREM removes one copy per item).
   */
  private async dispatch(texts: readonly string[]): Promise<void> {
    const jobs = texts.map((text) => ActionJobSchema.parse(JSON.parse(text)));
    await this.deps.queue.addBulk(
      jobs.map((job) => ({
        name: job.action.type,
        data: job,
        opts: { jobId: job.action.actionId, attempts: job.retry.attempts, backoff: { type: 'pcpflow' } },
      })),
    );
    const key = keys.pendingActions(this.prefix, this.cluster.name);
    const pipe = this.deps.redis.pipeline();
    for (const text of texts) pipe.lrem(key, 1, text);
    await pipe.exec();
  }
}
