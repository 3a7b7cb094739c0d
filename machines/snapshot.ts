import { z } from 'zod';
import { NodeEventSchema } from '../contracts/events.ts';
import { ActionSchema, ActionTypeSchema } from '../contracts/actions.ts';
import { ClusterNameSchema } from '../contracts/config.ts';
import { SnapshotDecodeError } from './errors.ts';
import { LEAF_PATHS, isLeafPath, valueToPath, type LeafPath } from './state-path.ts';

/**
 * The persisted state of one pgpool cluster: every backend's machine snapshot (the persisted form
 * from getPersistedSnapshot, reduced to value + context because the machine has no history states,
 * actors or output), the dedupe window, and a promotion that is waiting for its backend to be free.
 * Plain JSON so it can live in Redis and be decoded, validated and migrated without an actor.
 */

export const SNAPSHOT_SCHEMA_VERSION = 1;
export const DEFAULT_DEDUPE_WINDOW_MS = 60_000;

const OriginSchema = z.enum(['standby-attached', 'standby-detached', 'primary']);

const BackendContextSchema = z.strictObject({
  address: z.string().min(1).max(300),
  origin: OriginSchema,
  pending: ActionSchema.nullable(),
  gaveUp: z.strictObject({ actionId: z.string().min(1).max(200), type: ActionTypeSchema, reason: z.string().max(2000) }).nullable(),
});

const StateValueSchema: z.ZodType<string | Record<string, string>> = z.union([z.string(), z.record(z.string(), z.string())]);

export const PersistedBackendSchema = z.strictObject({
  value: StateValueSchema.refine((v) => isLeafPath(valueToPath(v)), {
    message: `state must be one of ${LEAF_PATHS.join(', ')}`,
  }),
  context: BackendContextSchema,
});

export const ClusterSnapshotSchema = z
  .strictObject({
    schemaVersion: z.literal(SNAPSHOT_SCHEMA_VERSION),
    cluster: ClusterNameSchema,
    /**
     * Everything configured that a decision depends on, so a replay of a recorded snapshot decides
     * exactly as production did. The fence fields default to the config defaults for snapshots
     * written before they were recorded.
     */
    policy: z.strictObject({
      detachHealthyPrimary: z.boolean(),
      dedupeWindowMs: z.number().int().min(0).max(86_400_000),
      fenceMode: z.enum(['fail-open', 'fail-closed']).default('fail-open'),
      fenceTimeoutMs: z.number().int().min(0).max(86_400_000).default(10_000),
    }),
    backends: z.array(PersistedBackendSchema).min(1).max(128),
    /** Dedupe keys and event ids seen within the window, oldest first. */
    seen: z.array(
      z.strictObject({
        dedupeKey: z.string().max(512),
        eventId: z.string().max(128),
        at: z.iso.datetime(),
        /** The backend the event was about: a later event about it ends the dedupe of this one. */
        backend: z.string().max(300).nullable().optional(),
      }),
    ),
    /** EFM asked for a promote while the backend had an action in flight; issued when that one ends. */
    deferredPromotion: z
      .strictObject({ backend: z.string(), eventId: z.string(), why: z.string().max(500) })
      .nullable(),
    /**
     * EFM load-balancer requests (attach/detach) that arrived while their backend had an action
     * in flight: decided again when that action's outcome arrives, so a quick detach-then-attach
     * is never lost. One per backend: a later request supersedes an earlier one.
     */
    deferredEvents: z.array(z.strictObject({ backend: z.string(), event: NodeEventSchema })).max(256).default([]),
    /**
     * Backends an operator put in maintenance: pcpflow holds them where they are (no action from
     * EFM's load-balancer hooks, pgpool's follow-primary or the reconciler) until maintenance ends.
     */
    maintenance: z
      .array(z.strictObject({ backend: z.string(), since: z.iso.datetime(), by: z.string().max(64), reason: z.string().max(500) }))
      .max(128)
      .default([]),
    /** The latest EFM/pgpool request about each backend in maintenance, decided when maintenance ends. */
    heldEvents: z.array(z.strictObject({ backend: z.string(), event: NodeEventSchema })).max(128).default([]),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.backends.forEach((b, i) => {
      if (seen.has(b.context.address)) ctx.addIssue({ code: 'custom', path: ['backends', i], message: `duplicate backend ${b.context.address}` });
      seen.add(b.context.address);
    });
    const promoted = s.backends.filter((b) => valueToPath(b.value) === 'promoted').length;
    if (promoted > 1) ctx.addIssue({ code: 'custom', path: ['backends'], message: `${promoted} backends are promoted; at most one may be` });
  });

export type ClusterSnapshot = z.infer<typeof ClusterSnapshotSchema>;
export type PersistedBackend = z.infer<typeof PersistedBackendSchema>;

export interface InitialBackend {
  address: string;
  role: 'primary' | 'standby';
  attached: boolean;
}

export interface InitialSnapshotInput {
  cluster: string;
  backends: InitialBackend[];
  policy?: Partial<DecisionPolicy>;
}

export type DecisionPolicy = ClusterSnapshot['policy'];

/** The decision policy a cluster's config asks for (the dedupe window is not configurable). */
export function policyOf(fence: { mode: DecisionPolicy['fenceMode']; timeoutMs: number; detachHealthyPrimary: boolean }, dedupeWindowMs = DEFAULT_DEDUPE_WINDOW_MS): DecisionPolicy {
  return { detachHealthyPrimary: fence.detachHealthyPrimary, dedupeWindowMs, fenceMode: fence.mode, fenceTimeoutMs: fence.timeoutMs };
}

/** The snapshot with the policy in force now: a config change applies to the next decision. */
export function withPolicy(s: ClusterSnapshot, policy: DecisionPolicy): ClusterSnapshot {
  const p = s.policy;
  const same = p.detachHealthyPrimary === policy.detachHealthyPrimary && p.dedupeWindowMs === policy.dedupeWindowMs && p.fenceMode === policy.fenceMode && p.fenceTimeoutMs === policy.fenceTimeoutMs;
  return same ? s : { ...s, policy: { ...policy } };
}

/** A persisted backend's leaf state, read from its value (the codec admits leaf states only). */
export function backendPath(p: PersistedBackend): LeafPath {
  const path = valueToPath(p.value);
  if (!isLeafPath(path)) throw new SnapshotDecodeError(`unknown backend state ${path}`);
  return path;
}

export function encodeSnapshot(s: ClusterSnapshot): string {
  return JSON.stringify(s);
}

/**
 * Migrations from each older schemaVersion to the next, applied in order on decode. Version 1 is
 * the first released layout, so the table is empty; a new layout adds `n: (old) => newer` here.
 */
const MIGRATIONS: Record<number, (raw: Record<string, unknown>) => Record<string, unknown>> = {};

export function decodeSnapshot(text: string): ClusterSnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SnapshotDecodeError('the cluster snapshot is not valid JSON', undefined, { cause: err });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new SnapshotDecodeError('the cluster snapshot is not a JSON object');
  let obj = raw as Record<string, unknown>;
  let version = obj.schemaVersion;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1)
    throw new SnapshotDecodeError('the cluster snapshot has no valid schemaVersion');
  if (version > SNAPSHOT_SCHEMA_VERSION)
    throw new SnapshotDecodeError(
      `the cluster snapshot has schemaVersion ${version}, newer than this pcpflow understands (${SNAPSHOT_SCHEMA_VERSION}); upgrade pcpflow`,
    );
  while (version < SNAPSHOT_SCHEMA_VERSION) {
    const migrate = MIGRATIONS[version];
    if (!migrate) throw new SnapshotDecodeError(`no migration from snapshot schemaVersion ${version}`);
    obj = migrate(obj);
    version += 1;
  }
  const parsed = ClusterSnapshotSchema.safeParse(obj);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `snapshot ${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    throw new SnapshotDecodeError(`the cluster snapshot is invalid: ${problems[0] ?? 'unknown problem'}${more}`, problems);
  }
  // Every backend names a leaf state of the machine (snapshot-actors.ts restores it from that).
  for (const b of parsed.data.backends) backendPath(b);
  return parsed.data;
}
