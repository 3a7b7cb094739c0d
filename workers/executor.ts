import { UnrecoverableError, Worker, type ConnectionOptions, type Job, type MinimalJob } from 'bullmq';
import type { AuditBody } from '../contracts/audit.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import type { NodeEvent } from '../contracts/events.ts';
import { INTAKE_EVENT_FIELD, keys, type ActionFinalResult } from '../contracts/keys.ts';
import type { AuditStore } from '../audit/store.ts';
import type { EnsureOutcome, PcpOps } from '../pcp/index.ts';
import { awaitStreaming } from '../replication/await-streaming.ts';
import type { StreamCheckChoice } from '../replication/choose.ts';
import { formatAddress } from '../contracts/address.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { RESULT_TTL_S } from './decider.ts';
import type { Metrics } from './metrics.ts';
import { finishAttempt } from './finish-attempt.ts';
import { notify } from './notify.ts';
import { RefusalBackoff } from './refusal-backoff.ts';
import { ACTION_QUEUE, ActionJobSchema, backoffDelay, type ActionJob } from './topology.ts';
import { isAttached } from '../contracts/pgpool-node.ts';

export interface ExecutorDeps {
  redis: RedisClient;
  connection: ConnectionOptions;
  prefix: string;
  audit: AuditStore;
  clusters: Map<string, ClusterConfig>;
  pcpFor: (cluster: ClusterConfig) => PcpOps;
  /** How this worker checks that a standby streams from the new primary (chosen once at start). */
  streamCheckFor: (cluster: ClusterConfig) => Promise<StreamCheckChoice>;
  logger: Logger;
  metrics?: Metrics;
  tuning: { concurrency: number; lockDurationMs: number; stalledIntervalMs: number };
  /** host:pid, named in each attempt's audit record so a crash and its retry can be told apart. */
  workerId?: string;
}

/** An audit body as the executor writes it; the cluster and the time are added when it is written. */
type AttemptRecord = Omit<AuditBody, 'cluster' | 'at'>;

const VERB: Record<ActionJob['action']['type'], string> = {
  attach: 'attach',
  detach: 'detach',
  promote: 'make pgpool primary',
  'promote-switchover': 'switch pgpool primary to',
  'await-streaming': 'wait for the new primary to stream to',
};

/**
 * The wait before a standby's re-attach: asks the chosen source until the standby streams from
 * the primary. Nothing is sent to pgpool; the attach is a separate action the decider issues on
 * this outcome.
 */
async function runAwait(pcp: PcpOps, check: StreamCheckChoice, job: ActionJob, signal: AbortSignal): Promise<EnsureOutcome> {
  const started = performance.now();
  switch (check.kind) {
    case 'off':
      return { result: 'already', reason: `${check.note}; attached without waiting`, retryable: false, durationMs: 0 };
    case 'unavailable':
      return { result: 'failed', reason: check.note, retryable: check.transient === true, durationMs: 0 };
    case 'source':
      break;
  }
  let primary = job.action.primary;
  if (primary === undefined) {
    // The router knew no primary: follow the one pgpool routes writes to now.
    const p = (await pcp.nodes({ signal })).nodes.find((n) => isAttached(n.status) && n.role === 'primary');
    if (!p) return { result: 'failed', reason: 'pgpool has no primary to stream from yet', retryable: true, durationMs: performance.now() - started };
    primary = formatAddress({ host: p.host, port: p.port });
  }
  return awaitStreaming(check.source, { standby: job.action.backend, primary, pollIntervalMs: job.pollIntervalMs ?? 25, deadlineMs: job.verifyMs, signal });
}

function run(pcp: PcpOps, job: ActionJob, signal: AbortSignal, check: () => Promise<StreamCheckChoice>): Promise<EnsureOutcome> {
  const opts = { signal, verifyMs: job.verifyMs };
  switch (job.action.type) {
    case 'attach':
      return pcp.ensureAttached(job.action.backend, opts);
    case 'detach':
      return pcp.ensureDetached(job.action.backend, opts);
    case 'promote':
    case 'promote-switchover':
      // pcpflow never asks pgpool to promote PostgreSQL itself (EFM does): switchover requests
      // change pgpool's primary the same way, without pcp_promote_node -s.
      return pcp.ensurePrimary(job.action.backend, opts);
    case 'await-streaming':
      return check().then((c) => runAwait(pcp, c, job, signal));
  }
}

/** With several pgpools: which confirmed, and which still showed the old state at the deadline (drift). */
function pgpoolsSentence(o: EnsureOutcome): string {
  if (!o.confirmedBy) return '';
  const drift = o.pgpoolDrift?.length
    ? `; drift: ${o.pgpoolDrift.map((d) => `${d.endpoint} still shows ${d.seen}`).join(', ')} after the confirmation deadline`
    : '';
  return ` (confirmed by ${o.pgpoolDrift?.length ? "" : "every reachable pgpool: "}${o.confirmedBy.join(', ')}${drift})`;
}

/**
 * Carries out actions with BullMQ's retries. Each attempt is audited twice (started, then its
 * result), so a worker killed mid-action leaves a started record that the retry's records
 * follow. Final results go back into the cluster's intake as action.outcome events.
 */
export class Executor {
  readonly worker: Worker;
  private readonly refusals: RefusalBackoff;

  constructor(private readonly deps: ExecutorDeps) {
    this.worker = new Worker(ACTION_QUEUE, (job) => this.process(job), {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.tuning.concurrency,
      // A SIGKILLed worker's job comes back after the lock expires; allow several such crashes.
      maxStalledCount: 5,
      lockDuration: deps.tuning.lockDurationMs,
      stalledInterval: deps.tuning.stalledIntervalMs,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, _err?: Error, job?: MinimalJob) => {
          const parsed = ActionJobSchema.safeParse(job?.data);
          return parsed.success ? backoffDelay(attemptsMade, parsed.data.retry, Math.random) : 1000;
        },
      },
    });
    this.refusals = new RefusalBackoff({ pause: () => this.worker.pause(true), resume: () => this.worker.resume() }, deps.logger, 'action worker');
    this.worker.on('error', (err) => this.refusals.onError(err));
    this.worker.on('completed', () => this.refusals.succeeded());
    this.worker.on('failed', () => this.refusals.succeeded());
  }

  private async process(job: Job): Promise<string> {
    const parsed = ActionJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`action job ${job.id} has an invalid payload: ${parsed.error.issues[0]?.message}`);
    const data = parsed.data;
    const { action } = data;
    const cluster = this.deps.clusters.get(action.cluster);
    if (!cluster) throw new UnrecoverableError(`action ${action.actionId} names cluster ${action.cluster}, which this worker's config does not have`);
    const attempt = job.attemptsStarted || job.attemptsMade + 1;
    const verb = VERB[action.type];
    const m = this.deps.metrics;
    if (job.attemptsMade === 0) m?.actionQueueWaitSeconds.observe(Math.max(0, (job.processedOn ?? Date.now()) - job.timestamp) / 1000);
    const auditing = performance.now();
    await this.audit(cluster.name, {
      kind: 'action-attempt',
      backend: action.backend,
      actionId: action.actionId,
      attempt,
      outcome: 'started',
      note:
        action.type === 'await-streaming'
          ? `Attempt ${attempt}: waiting up to ${data.verifyMs} ms for ${action.backend} to stream from ${action.primary ?? "pgpool's primary"} before it is attached (${action.reason}).`
          : `Attempt ${attempt} of ${data.retry.attempts}: ${verb} ${action.backend} over PCP (${action.reason})${this.deps.workerId ? ` on worker ${this.deps.workerId}` : ''}.`,
    });
    const started = performance.now();
    m?.actionPhaseSeconds.observe({ phase: 'audit' }, (started - auditing) / 1000);
    const outcome = await run(this.deps.pcpFor(cluster), data, AbortSignal.timeout(data.deadlineMs), () => this.deps.streamCheckFor(cluster)).catch(
      (err: unknown): EnsureOutcome => ({
        result: 'failed',
        retryable: true,
        reason: err instanceof Error ? err.message : String(err),
        durationMs: performance.now() - started,
      }),
    );
    const durationMs = Math.round(performance.now() - started);
    m?.actionPhaseSeconds.observe({ phase: 'pcp' }, (performance.now() - started) / 1000);
    this.deps.metrics?.actions.inc({ type: action.type, outcome: outcome.result });
    this.deps.metrics?.actionSeconds.observe({ type: action.type }, durationMs / 1000);
    const lastAttempt = job.attemptsMade + 1 >= data.retry.attempts || !outcome.retryable;
    const sentence =
      action.type === 'await-streaming'
        ? outcome.result === 'failed'
          ? `${outcome.reason ?? 'the wait failed'}; ${lastAttempt ? 'giving up' : 'will look again'}.`
          : `${outcome.reason ?? 'streaming'}.`
        : outcome.result === 'changed'
        ? `${verb} ${action.backend} done and confirmed in pgpool's node info${pgpoolsSentence(outcome)}.`
        : outcome.result === 'already'
          ? `${action.backend} was already as wanted in pgpool; nothing sent.`
          : lastAttempt
            ? `${verb} ${action.backend} failed (${outcome.reason ?? 'no reason given'}); giving up after attempt ${attempt}.`
            : `${verb} ${action.backend} failed (${outcome.reason ?? 'no reason given'}); will retry with backoff.`;
    const resultBody = {
      kind: 'action-attempt' as const,
      backend: action.backend,
      actionId: action.actionId,
      attempt,
      durationMs,
      outcome: outcome.result,
      endpoint: outcome.endpoint,
      note: `Attempt ${attempt}: ${sentence}`,
    };
    if (outcome.result !== 'failed') {
      // The result record, the final result and the outcome event go in one script.
      const finishing = performance.now();
      await this.finish(cluster, data, outcome.result, attempt, outcome, resultBody);
      m?.actionPhaseSeconds.observe({ phase: 'finish' }, (performance.now() - finishing) / 1000);
      return outcome.result;
    }
    const auditingResult = performance.now();
    await this.audit(cluster.name, resultBody);
    m?.actionPhaseSeconds.observe({ phase: 'audit' }, (performance.now() - auditingResult) / 1000);
    if (!lastAttempt) {
      this.deps.metrics?.retries.inc();
      throw new Error(outcome.reason ?? 'action failed');
    }
    this.deps.metrics?.gaveUp.inc({ cluster: cluster.name, type: action.type });
    // Notify first: once the gave-up outcome is decided, the DBA has already been told.
    await notify(
      cluster.notificationCommand,
      `pcpflow: ${cluster.name}: ${action.type} ${action.backend} gave up`,
      action.type === 'await-streaming'
        ? `${outcome.reason ?? `${action.backend} did not stream from the new primary`}. ${action.backend} is kept out of pgpool's load balancing in cluster ${cluster.name} ` +
            `and is in attention. Re-point it to ${action.primary ?? 'the new primary'} (primary_conninfo), check that it streams, then run pcpflow pcp attach ${action.backend} --reason ...; ` +
            'the reconciler then sees it attached and clears the attention.'
        : `pcpflow could not ${verb} ${action.backend} in cluster ${cluster.name} after ${attempt} attempt(s): ${outcome.reason ?? 'unknown reason'}. ` +
          `The backend is in attention. Fix the cause: once pgpool answers again, the reconciler retries the action after ${cluster.attentionRetryMs < 1000 ? `${cluster.attentionRetryMs} ms` : `${Math.round(cluster.attentionRetryMs / 1000)} s`} (doubling after each retry that gives up). ` +
          `Or run it yourself (pcpflow pcp ${action.type === 'promote-switchover' ? 'promote' : action.type} ${action.backend} --reason ...), or pcpflow attention clear ${action.backend}.`,
      this.deps.logger,
    );
    await this.finish(cluster, data, 'gave-up', attempt, outcome, null);
    throw new UnrecoverableError(outcome.reason ?? 'action gave up');
  }

  /**
   * The action's final result (for synchronous hooks) and its outcome event (for the decider);
   * with `record`, the attempt's result record too, all in one script (workers/lua/finish-attempt.lua).
   */
  private async finish(cluster: ClusterConfig, data: ActionJob, result: ActionFinalResult['result'], attempt: number, outcome: EnsureOutcome, record: AttemptRecord | null): Promise<void> {
    const { action } = data;
    const final: ActionFinalResult = { result, attempt, ...(outcome.reason ? { reason: outcome.reason } : {}) };
    const event: NodeEvent = {
      type: 'action.outcome',
      eventId: `outcome.${action.actionId}`.slice(0, 128),
      dedupeKey: `outcome|${action.actionId}|${result}`,
      source: 'executor',
      cluster: cluster.name,
      backend: action.backend,
      observedAt: new Date().toISOString(),
      argv: [],
      actionId: action.actionId,
      action: action.type,
      result,
      attempt,
      ...(outcome.reason ? { reason: outcome.reason.slice(0, 2000) } : {}),
      ...(outcome.endpoint ? { endpoint: outcome.endpoint } : {}),
    };
    if (record) {
      const [resultText, eventText] = [JSON.stringify(final), JSON.stringify(event)];
      await this.deps.audit.append(cluster.name, [{ ...record, cluster: cluster.name, at: new Date().toISOString() }], (w) =>
        finishAttempt(this.deps.redis, {
          ...w,
          prefix: this.deps.prefix,
          cluster: cluster.name,
          actionId: action.actionId,
          result: resultText,
          resultTtlS: RESULT_TTL_S,
          outcomeEvent: eventText,
        }),
      );
      return;
    }
    // The result for synchronous hooks and the outcome for the decider, in one round trip.
    const [set, added] = (await this.deps.redis
      .pipeline()
      .set(keys.actionResult(this.deps.prefix, cluster.name, action.actionId), JSON.stringify(final), 'EX', RESULT_TTL_S)
      .xadd(keys.intake(this.deps.prefix, cluster.name), '*', INTAKE_EVENT_FIELD, JSON.stringify(event))
      .exec()) ?? [];
    const err = set?.[0] ?? added?.[0];
    if (err) throw err;
  }

  private audit(cluster: string, body: AttemptRecord): Promise<unknown> {
    return this.deps.audit.append(cluster, [{ ...body, cluster, at: new Date().toISOString() }]);
  }

  close(): Promise<void> {
    this.refusals.close();
    return this.worker.close();
  }
}
