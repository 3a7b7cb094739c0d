import { userInfo } from 'node:os';
import { formatAddress, parseAddress } from '../contracts/address.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import type { NodeEvent } from '../contracts/events.ts';
import { ActionFinalResultSchema, EventResultSchema, keys, type ActionFinalResult } from '../contracts/keys.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { AuditStore } from '../audit/store.ts';
import { newEventId, publishEvent } from './intake.ts';

/**
 * Operator commands travel the path EFM's events do: published into the cluster's intake, decided,
 * executed, confirmed, audited. This module publishes one and waits for what became of it, for the
 * `pcpflow pcp`, `maintenance` and `attention` commands.
 */

/** Who runs the command: the invoking user when run through sudo, else the OS user. */
export function operatorName(env: NodeJS.ProcessEnv = process.env): string {
  const sudo = env.SUDO_USER;
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (a container with an arbitrary uid): fall back to the uid.
    name = `uid ${process.getuid?.() ?? '?'}`;
  }
  const who = sudo && sudo !== name ? `${sudo} (via sudo as ${name})` : name;
  return who.slice(0, 64);
}

/**
 * The backend as the config names it (`host:port`), so outputs and audit records spell it one
 * way; null when the cluster has no such backend (the decider then audits the event as rejected).
 */
export function configuredBackend(cluster: ClusterConfig, address: string): string | null {
  const parsed = parseAddress(address);
  if (!parsed) return null;
  const matches = cluster.backends.filter((b) => b.address === parsed.host && (parsed.port === undefined || b.port === parsed.port));
  const only = matches.length === 1 ? matches[0] : undefined;
  return only ? formatAddress({ host: only.address, port: only.port }) : null;
}

type OperatorFields = { user: string; reason: string };
export type OperatorEventInput =
  | ({ type: 'operator.command'; command: 'attach' | 'detach' | 'promote'; backend: string } & OperatorFields)
  | ({ type: 'operator.maintenance'; on: boolean; all: boolean; backend: string | null } & OperatorFields)
  | ({ type: 'operator.attention-clear'; backend: string } & OperatorFields);

export function operatorEvent(cluster: string, input: OperatorEventInput, argv: string[], now = new Date()): NodeEvent {
  const eventId = newEventId();
  return {
    ...input,
    eventId,
    // An operator's command is never a repeat of another one: each is decided.
    dedupeKey: `operator|${eventId}`,
    source: 'operator',
    cluster,
    observedAt: now.toISOString(),
    argv: argv.map((a) => a.slice(0, 4096)).slice(0, 32),
    reason: input.reason.slice(0, 500),
  } as NodeEvent;
}

export type OperatorOutcome =
  /** No decider took the event in time; it stays in the intake and will be decided. */
  | { kind: 'undecided' }
  /** Decided with no PCP action (already so, ignored, held, a maintenance switch): the note says why. */
  | { kind: 'decided'; note: string; refused: boolean }
  | { kind: 'done'; note: string; results: Array<{ actionId: string } & ActionFinalResult> }
  | { kind: 'gave-up'; note: string; results: Array<{ actionId: string } & ActionFinalResult> }
  /** Decided, but its actions had not finished when the wait ended. */
  | { kind: 'in-flight'; note: string; actionIds: string[] };

/**
 * Whether the decider refused the event (ignored while an action is in flight or in attention,
 * held in maintenance, rejected) rather than finding nothing to change: its audit records say.
 */
async function refused(redis: RedisClient, prefix: string, cluster: string, eventId: string): Promise<boolean> {
  const records = (await new AuditStore(redis, prefix).query(cluster, { limit: 50 })).map((r) => r.record).filter((r) => r.eventId === eventId);
  return records.length > 0 && !records.some((r) => r.kind === 'decision');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function publishAndAwait(
  redis: RedisClient,
  prefix: string,
  cluster: ClusterConfig,
  event: NodeEvent,
  opts: { waitMs: number; pollMs?: number },
): Promise<OperatorOutcome> {
  await publishEvent(redis, prefix, event);
  const deadline = Date.now() + opts.waitMs;
  const poll = opts.pollMs ?? 100;
  let decided: { actionIds: string[]; note: string } | null = null;
  while (Date.now() < deadline) {
    if (!decided) {
      const raw = await redis.get(keys.eventResult(prefix, cluster.name, event.eventId));
      if (raw) {
        decided = EventResultSchema.parse(JSON.parse(raw));
        if (decided.actionIds.length === 0) return { kind: 'decided', note: decided.note, refused: await refused(redis, prefix, cluster.name, event.eventId) };
        continue;
      }
    } else {
      const raws = await redis.mget(...decided.actionIds.map((id) => keys.actionResult(prefix, cluster.name, id)));
      const results = raws.map((r, i) => (r ? { actionId: decided?.actionIds[i] ?? '', ...ActionFinalResultSchema.parse(JSON.parse(r)) } : null));
      const done = results.filter((r): r is NonNullable<typeof r> => r !== null);
      if (done.some((r) => r.result === 'gave-up')) return { kind: 'gave-up', note: decided.note, results: done };
      if (done.length === results.length) return { kind: 'done', note: decided.note, results: done };
    }
    await sleep(poll);
  }
  return decided ? { kind: 'in-flight', note: decided.note, actionIds: decided.actionIds } : { kind: 'undecided' };
}
