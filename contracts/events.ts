import { z } from 'zod';
import { AddressTextSchema } from './address.ts';
import { ClusterNameSchema } from './config.ts';
import { ActionTypeSchema } from './actions.ts';
import { PGPOOL_NODE_STATUSES, type PgpoolNodeStatus } from './pgpool-node.ts';

/**
 * Every event pcpflow reacts to, one variant per hook of design.md plus what pcpflow itself
 * produces (action outcomes, reconciler drift) and what an operator reports (rebuilds).
 * Events travel through Redis as JSON; the worker parses each payload with NodeEventSchema
 * before anything else touches it.
 */

export const MAX_ARG_LENGTH = 4096;
export const MAX_ARGV = 32;

const Argv = z.array(z.string().max(MAX_ARG_LENGTH)).max(MAX_ARGV);
const EventId = z.string().regex(/^[A-Za-z0-9_.-]{8,128}$/, 'event ids are 8-128 of A-Z a-z 0-9 _ . -');

export const EventSourceSchema = z.enum(['efm', 'pgpool', 'operator', 'executor', 'reconciler']);
export type EventSource = z.infer<typeof EventSourceSchema>;

export const NodeTypeSchema = z.enum(['primary', 'standby']);
export type NodeType = z.infer<typeof NodeTypeSchema>;

const base = {
  eventId: EventId,
  /** Equal for the same real-world event reported by several EFM agents; the decider keeps one. */
  dedupeKey: z.string().min(1).max(512),
  source: EventSourceSchema,
  cluster: ClusterNameSchema,
  /** Canonical `host` or `host:port` of the backend the event is chiefly about; null when none. */
  backend: AddressTextSchema.nullable(),
  observedAt: z.iso.datetime(),
  /** The hook's argv as received, for the audit trail. */
  argv: Argv,
};

const NullableNodeId = z.number().int().min(0).max(127).nullable();
const NullablePort = z.number().int().min(1).max(65535).nullable();

export const EfmAttachSchema = z.strictObject({ ...base, type: z.literal('efm.attach'), nodeType: NodeTypeSchema });
export const EfmDetachSchema = z.strictObject({ ...base, type: z.literal('efm.detach'), nodeType: NodeTypeSchema });
export const EfmPostPromotionSchema = z.strictObject({
  ...base,
  type: z.literal('efm.post-promotion'),
  newPrimary: AddressTextSchema,
  failedPrimary: AddressTextSchema.nullable(),
});
export const EfmFenceSchema = z.strictObject({
  ...base,
  type: z.literal('efm.fence'),
  newPrimary: AddressTextSchema,
  failedPrimary: AddressTextSchema.nullable(),
});
export const EfmRemotePrePromotionSchema = z.strictObject({
  ...base,
  type: z.literal('efm.remote-pre-promotion'),
  newPrimary: AddressTextSchema,
});
export const EfmRemotePostPromotionSchema = z.strictObject({
  ...base,
  type: z.literal('efm.remote-post-promotion'),
  newPrimary: AddressTextSchema,
});
export const EfmResumedSchema = z.strictObject({ ...base, type: z.literal('efm.resumed') });
export const EfmDbFailureSchema = z.strictObject({ ...base, type: z.literal('efm.db-failure') });
export const EfmPrimaryIsolatedSchema = z.strictObject({ ...base, type: z.literal('efm.primary-isolated') });
export const EfmNotificationSchema = z.strictObject({
  ...base,
  type: z.literal('efm.notification'),
  subject: z.string().max(MAX_ARG_LENGTH),
  body: z.string().max(MAX_ARG_LENGTH),
});

/** pgpool's follow_primary_command placeholders; -1 and "" from pgpool become null. */
export const PgpoolFollowPrimarySchema = z.strictObject({
  ...base,
  type: z.literal('pgpool.follow-primary'),
  nodeId: z.number().int().min(0).max(127), // %d
  host: AddressTextSchema, // %h
  port: z.number().int().min(1).max(65535), // %p
  dataDir: z.string().max(MAX_ARG_LENGTH), // %D
  newPrimaryId: NullableNodeId, // %m
  newPrimaryHost: AddressTextSchema.nullable(), // %H
  oldMainId: NullableNodeId, // %M
  oldPrimaryId: NullableNodeId, // %P
  newPrimaryPort: NullablePort, // %r
  newPrimaryDataDir: z.string().max(MAX_ARG_LENGTH).nullable(), // %R
  oldPrimaryHost: AddressTextSchema.nullable(), // %N
  oldPrimaryPort: NullablePort, // %S
});

export const OperatorRebuildStartedSchema = z.strictObject({ ...base, type: z.literal('operator.rebuild-started') });
export const OperatorRebuildDoneSchema = z.strictObject({ ...base, type: z.literal('operator.rebuild-done') });

/** Who ran an operator command and why: the OS user (the sudo user when run through sudo) and --reason. */
const operator = {
  user: z.string().min(1).max(64),
  reason: z.string().max(500),
};

/** `pcpflow pcp attach|detach|promote ADDR`: decided and audited like an EFM event. */
export const OperatorCommandSchema = z.strictObject({
  ...base,
  ...operator,
  type: z.literal('operator.command'),
  command: z.enum(['attach', 'detach', 'promote']),
});

/** `pcpflow maintenance on|off ADDR|--all`: the backend is held where it is (backend null with all). */
export const OperatorMaintenanceSchema = z.strictObject({
  ...base,
  ...operator,
  type: z.literal('operator.maintenance'),
  on: z.boolean(),
  all: z.boolean(),
});

/** `pcpflow attention clear ADDR`: the operator says the cause is fixed; the intent of the action that gave up stands. */
export const OperatorAttentionClearSchema = z.strictObject({ ...base, ...operator, type: z.literal('operator.attention-clear') });

export const ActionResultSchema = z.enum(['changed', 'already', 'failed', 'gave-up']);
export type ActionResult = z.infer<typeof ActionResultSchema>;

export const ActionOutcomeSchema = z.strictObject({
  ...base,
  type: z.literal('action.outcome'),
  actionId: z.string().min(1).max(200),
  action: ActionTypeSchema,
  /** changed/already: done; failed: this attempt failed, more may follow; gave-up: no more attempts. */
  result: ActionResultSchema,
  attempt: z.number().int().min(1),
  reason: z.string().max(2000).optional(),
  endpoint: z.string().max(300).optional(),
});

export const PgpoolNodeStatusSchema = z.enum(PGPOOL_NODE_STATUSES);
export type { PgpoolNodeStatus };
export const PgpoolRoleSchema = z.enum(['primary', 'standby']);
export type PgpoolRole = z.infer<typeof PgpoolRoleSchema>;

export const ReconcilerDriftSchema = z.strictObject({
  ...base,
  type: z.literal('reconciler.drift'),
  nodeId: z.number().int().min(0).max(127),
  observed: z.strictObject({ status: PgpoolNodeStatusSchema, role: PgpoolRoleSchema }),
  expected: z.string().max(200),
});

/**
 * A backend in attention whose pgpool answers again, past the cool-down: the reconciler asks for
 * the action that gave up to be tried once more.
 */
export const ReconcilerRetrySchema = z.strictObject({
  ...base,
  type: z.literal('reconciler.retry'),
  actionId: z.string().min(1).max(200),
});

export const NodeEventSchema = z.discriminatedUnion('type', [
  EfmAttachSchema,
  EfmDetachSchema,
  EfmPostPromotionSchema,
  EfmFenceSchema,
  EfmRemotePrePromotionSchema,
  EfmRemotePostPromotionSchema,
  EfmResumedSchema,
  EfmDbFailureSchema,
  EfmPrimaryIsolatedSchema,
  EfmNotificationSchema,
  PgpoolFollowPrimarySchema,
  OperatorRebuildStartedSchema,
  OperatorRebuildDoneSchema,
  OperatorCommandSchema,
  OperatorMaintenanceSchema,
  OperatorAttentionClearSchema,
  ActionOutcomeSchema,
  ReconcilerDriftSchema,
  ReconcilerRetrySchema,
]);
export type NodeEvent = z.infer<typeof NodeEventSchema>;
export type NodeEventType = NodeEvent['type'];
export type NodeEventOf<T extends NodeEventType> = Extract<NodeEvent, { type: T }>;
export const NODE_EVENT_TYPES = NodeEventSchema.options.map((o) => o.shape.type.value) as NodeEventType[];
