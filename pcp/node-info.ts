import * as z from 'zod/mini';
import { describeIssue } from '../contracts/issues.ts';
import { PGPOOL_NODE_STATUSES, PgpoolNodeStatusSchema, PgpoolRoleSchema } from '../contracts/pgpool-node.ts';

/**
 * Node-info records: pgpool 4.0–4.7 send 7 to 13 fields and nothing else says which version is
 * talking, so the field count picks the layout (each count maps to exactly one).
 */
type Field =
  | 'host'
  | 'port'
  | 'status'
  | 'quarantine'
  | 'pg_status'
  | 'weight'
  | 'role'
  | 'pg_role'
  | 'delay_by_time'
  | 'delay'
  | 'repl_state'
  | 'repl_sync_state'
  | 'status_changed';

export const NodeInfoLayoutSchema = z.enum(['A', 'B', 'C', 'D', 'E', 'F', 'G']);
export type NodeInfoLayout = z.infer<typeof NodeInfoLayoutSchema>;

const LAYOUTS: Record<NodeInfoLayout, readonly Field[]> = {
  A: ['host', 'port', 'status', 'weight', 'role', 'delay', 'status_changed'],
  B: ['host', 'port', 'status', 'quarantine', 'weight', 'role', 'delay', 'status_changed'],
  C: ['host', 'port', 'status', 'weight', 'role', 'delay', 'repl_state', 'repl_sync_state', 'status_changed'],
  D: ['host', 'port', 'status', 'quarantine', 'weight', 'role', 'delay', 'repl_state', 'repl_sync_state', 'status_changed'],
  E: ['host', 'port', 'status', 'pg_status', 'weight', 'role', 'pg_role', 'delay', 'repl_state', 'repl_sync_state', 'status_changed'],
  F: [
    'host', 'port', 'status', 'quarantine', 'pg_status', 'weight', 'role', 'pg_role',
    'delay', 'repl_state', 'repl_sync_state', 'status_changed',
  ],
  G: [
    'host', 'port', 'status', 'quarantine', 'pg_status', 'weight', 'role', 'pg_role',
    'delay_by_time', 'delay', 'repl_state', 'repl_sync_state', 'status_changed',
  ],
};

export function layoutFields(layout: NodeInfoLayout): readonly string[] {
  return LAYOUTS[layout];
}

export function layoutForCount(n: number): NodeInfoLayout | null {
  for (const l of NodeInfoLayoutSchema.options) if (LAYOUTS[l].length === n) return l;
  return null;
}

/** What the layout tells about the server generation (PCP has no version command). */
export function generationOf(layout: NodeInfoLayout): '4.0' | '4.1-4.2' | '4.3' | '4.4+' {
  switch (layout) {
    case 'A':
    case 'B':
      return '4.0';
    case 'C':
    case 'D':
      return '4.1-4.2';
    case 'E':
    case 'F':
      return '4.3';
    case 'G':
      return '4.4+';
  }
}

/** Switchover promote ('s') exists from 4.3; older servers silently treat it as a plain promote. */
export function supportsSwitchover(layout: NodeInfoLayout): boolean {
  const g = generationOf(layout);
  return g === '4.3' || g === '4.4+';
}


/**
 * SERVER_ROLE: 0 main, 1 replica (non-streaming modes), 2 primary, 3 standby. The executor only
 * cares which node takes writes, so main counts as primary and replica as standby.
 */
const ROLE_NAMES = ['primary', 'standby', 'primary', 'standby'] as const;
const RAW_ROLE_NAMES = ['main', 'replica', 'primary', 'standby'] as const;

/** pgpool prints weights scaled by RAND_MAX (glibc). */
const RAND_MAX = 2147483647;

// zod/mini, like every reply of pgpool the PCP client reads: a one-shot command starts without zod classic.
const Int = (min: number, max?: number) => z.number().check(z.int(), z.minimum(min), ...(max === undefined ? [] : [z.maximum(max)]));
const IntText = z.pipe(z.string().check(z.regex(/^-?\d+$/, 'not an integer')), z.transform(Number));
const NumText = z.pipe(z.string().check(z.regex(/^-?\d+(\.\d+)?$/, 'not a number')), z.transform(Number));
const Optional = <T extends z.core.SomeType>(s: T) => z.optional(z.union([z.pipe(z.literal(''), z.transform(() => undefined)), s]));
const Text = (max: number) => z.string().check(z.maxLength(max));

const RawRecordSchema = z.object({
  host: Text(1024),
  port: z.pipe(IntText, Int(0, 65535)),
  status: z.pipe(IntText, Int(0, 3)),
  quarantine: Optional(z.pipe(IntText, Int(0, 1))),
  pg_status: Optional(Text(64)),
  weight: z.pipe(NumText, z.number().check(z.minimum(0))),
  role: z.pipe(IntText, Int(0, 3)),
  pg_role: Optional(Text(64)),
  delay_by_time: Optional(z.pipe(IntText, Int(0, 1))),
  delay: Optional(NumText),
  repl_state: z.optional(Text(256)),
  repl_sync_state: z.optional(Text(256)),
  status_changed: Optional(z.pipe(IntText, Int(0))),
});

/** Everything a layout offers, typed. Fields absent from the layout are undefined. */
export const NodeInfoSchema = z.strictObject({
  id: Int(0, 127),
  host: z.string(),
  port: Int(0, 65535),
  status: PgpoolNodeStatusSchema,
  statusCode: Int(0, 3),
  /** Down because the watchdog lacked quorum, not a real failover (4.0.18+, 4.1.11+, 4.2.8+). */
  quarantine: z.optional(z.boolean()),
  role: PgpoolRoleSchema,
  rawRole: z.enum(RAW_ROLE_NAMES),
  /** Normalised load-balance weight, 0..1. */
  weight: z.number(),
  /** Live PQping result (4.3+): up, down, unknown. */
  backendStatus: z.optional(z.string()),
  /** Live pg_is_in_recovery() result (4.3+): primary, standby, unknown. */
  backendRole: z.optional(z.string()),
  replicationDelay: z.optional(z.number()),
  replicationDelayUnit: z.optional(z.enum(['bytes', 'microseconds'])),
  replicationState: z.optional(z.string()),
  replicationSyncState: z.optional(z.string()),
  /** ISO 8601. */
  lastStatusChange: z.optional(z.string()),
  /** Known only to the native client; the pcp_* binaries hide the field count. */
  layout: z.optional(NodeInfoLayoutSchema),
});
export type NodeInfo = z.infer<typeof NodeInfoSchema>;

export type DecodeResult = { ok: true; node: NodeInfo } | { ok: false; error: string };

/** Decodes one record's fields (the strings after the NodeInfo/CommandComplete tag). */
export function decodeNodeInfo(id: number, fields: readonly string[]): DecodeResult {
  const layout = layoutForCount(fields.length);
  if (!layout) return { ok: false, error: `node info with ${fields.length} fields (pgpool 4.0-4.7 send 7 to 13)` };
  const names = LAYOUTS[layout];
  const raw: Record<string, string> = {};
  names.forEach((name, i) => {
    raw[name] = fields[i] ?? '';
  });
  const parsed = RawRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `node ${id} field ${issue?.path.join('.') ?? '?'}: ${issue ? describeIssue(issue) : 'invalid'}` };
  }
  const r = parsed.data;
  const node: NodeInfo = {
    id,
    host: r.host,
    port: r.port,
    status: PGPOOL_NODE_STATUSES[r.status] ?? 'unused',
    statusCode: r.status,
    quarantine: r.quarantine === undefined ? undefined : r.quarantine === 1,
    role: ROLE_NAMES[r.role] ?? 'standby',
    rawRole: RAW_ROLE_NAMES[r.role] ?? 'standby',
    weight: r.weight / RAND_MAX,
    backendStatus: r.pg_status,
    backendRole: r.pg_role,
    replicationDelay: r.delay,
    replicationDelayUnit: r.delay === undefined ? undefined : r.delay_by_time === 1 ? 'microseconds' : 'bytes',
    replicationState: r.repl_state,
    replicationSyncState: r.repl_sync_state,
    lastStatusChange: r.status_changed === undefined ? undefined : new Date(r.status_changed * 1000).toISOString(),
    layout,
  };
  // Built from the record parsed above: only the id, which the caller supplies, is left to check
  // (parsing the result again with NodeInfoSchema was a fifth of the PCP client's CPU).
  if (!Number.isInteger(id) || id < 0 || id > 127) return { ok: false, error: `node id ${id} is out of range (0 to 127)` };
  return { ok: true, node };
}

/** The inverse, for test servers: the fields a given layout sends for a record. */
export function encodeNodeInfoFields(layout: NodeInfoLayout, v: Record<Field, string>): string[] {
  return LAYOUTS[layout].map((f) => v[f]);
}
export type NodeInfoFieldValues = Record<Field, string>;
