import { randomUUID } from 'node:crypto';
import { INTAKE_EVENT_FIELD, INTAKE_REJECTION_FIELD, IntakeRejectionSchema, keys, type IntakeRejection } from '../contracts/keys.ts';
import { NodeEventSchema, type NodeEvent } from '../contracts/events.ts';
import type { RedisClient } from '../runtime/redis.ts';

/** Events pcpflow produces itself (outcomes, drift) enter the same ordered intake as hook events. */
export async function publishEvent(redis: RedisClient, prefix: string, event: NodeEvent): Promise<string> {
  const id = await redis.xadd(keys.intake(prefix, event.cluster), '*', INTAKE_EVENT_FIELD, JSON.stringify(event));
  return id ?? '';
}

export function newEventId(): string {
  return randomUUID();
}

export type IntakeEntry =
  | { kind: 'event'; id: string; event: NodeEvent }
  | { kind: 'rejected-by-hook'; id: string; rejection: IntakeRejection }
  | { kind: 'invalid'; id: string; reason: string; raw: string };

/**
 * Parses one intake stream entry. Anything that is not a valid event or hook rejection becomes
 * an `invalid` entry: the decider audits it as rejected and moves on, so one bad payload (a
 * foreign writer, a version skew) never blocks the cluster's stream.
 */
export function parseIntakeEntry(id: string, fields: string[]): IntakeEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? '', fields[i + 1] ?? '');
  const raw = map.get(INTAKE_EVENT_FIELD) ?? map.get(INTAKE_REJECTION_FIELD) ?? '';
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { kind: 'invalid', id, reason: 'payload is not JSON', raw: raw.slice(0, 300) };
  }
  if (map.has(INTAKE_EVENT_FIELD)) {
    const parsed = NodeEventSchema.safeParse(json);
    if (parsed.success) return { kind: 'event', id, event: parsed.data };
    const issue = parsed.error.issues[0];
    return { kind: 'invalid', id, reason: `event payload invalid at ${issue?.path.join('.') || '(top)'}: ${issue?.message}`, raw: raw.slice(0, 300) };
  }
  if (map.has(INTAKE_REJECTION_FIELD)) {
    const parsed = IntakeRejectionSchema.safeParse(json);
    if (parsed.success) return { kind: 'rejected-by-hook', id, rejection: parsed.data };
    return { kind: 'invalid', id, reason: 'hook rejection payload invalid', raw: raw.slice(0, 300) };
  }
  return { kind: 'invalid', id, reason: `entry has none of the fields ${INTAKE_EVENT_FIELD}, ${INTAKE_REJECTION_FIELD}`, raw: raw.slice(0, 300) };
}

/** Stream ids compare as (ms, seq) pairs; used to skip entries already consumed. */
export function streamIdAfter(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return (am ?? 0) > (bm ?? 0) || ((am ?? 0) === (bm ?? 0) && (as ?? 0) > (bs ?? 0));
}
