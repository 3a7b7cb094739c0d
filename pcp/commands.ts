import * as z from 'zod/mini';
import { cstrings, splitCStrings, type Frame } from './framing.ts';
import type { PcpConnection } from './connection.ts';
import { pcpAuthResponse, MAX_USER_BYTES } from './auth.ts';
import { decodeNodeInfo, supportsSwitchover, type NodeInfo, type NodeInfoLayout } from './node-info.ts';
import { PcpAuthError, PcpInvalidRequestError, PcpProtocolError, PcpServerError, PcpUnsupportedError } from './errors/index.ts';
import { formatServerMessage } from './messages.ts';
import { describeIssue } from '../contracts/issues.ts';
import { escapeControlsDeep } from '../contracts/text.ts';

/**
 * One function per PCP command, each over an open connection: send the request, read exactly the
 * reply frames the protocol defines, validate tags and fields. Nothing here opens or closes sockets.
 */

/** pgpool has at most 128 backends (MAX_NUM_BACKENDS). */
export const MAX_NODES = 128;

function strings(conn: PcpConnection, frame: Frame, what: string): string[] {
  const parts = splitCStrings(frame.payload);
  if (parts === null) throw conn.fail(new PcpProtocolError(conn.name, `${what} payload is not NUL-terminated`));
  return parts;
}

function expectTag(conn: PcpConnection, parts: string[], tag: string, what: string): string[] {
  if (parts[0] !== tag) throw conn.fail(new PcpProtocolError(conn.name, `${what} starts with "${(parts[0] ?? '').slice(0, 40)}" instead of ${tag}`));
  return parts.slice(1);
}

export function validateUser(user: string): void {
  if (Buffer.byteLength(user, 'utf8') > MAX_USER_BYTES || user.length === 0 || user.includes('\0'))
    throw new PcpInvalidRequestError(`PCP user name must be 1-${MAX_USER_BYTES} bytes without NUL`);
}

/**
 * Salt, then the MD5 response. `pipelined`: return once R is sent; the first command goes out right
 * behind it and its read takes the auth reply first (PcpConnection.owe), saving a round trip per
 * login: pgpool's PCP worker reads requests from a buffer one after the other and answers R before
 * it reads the next. A refusal then surfaces, as the same PcpAuthError, from that first read (pgpool
 * closes after its FATAL, so the command behind R is never run).
 */
export async function authenticate(conn: PcpConnection, user: string, password: string, opts: { pipelined?: boolean } = {}): Promise<void> {
  validateUser(user);
  conn.send('M');
  const salt = await readAuthFrame(conn, ['m'], 'salt', user);
  if (salt.payload.length !== 4) throw conn.fail(new PcpProtocolError(conn.name, `salt of ${salt.payload.length} bytes (expected 4)`));
  conn.send('R', cstrings(user, pcpAuthResponse(user, password, salt.payload)));
  const authenticated = readAuthFrame(conn, ['r'], 'auth', user).then((ok) => {
    const parts = strings(conn, ok, 'auth reply');
    if (parts[0] !== 'AuthenticationOK') throw conn.fail(new PcpAuthError(conn.name, user, (parts[0] ?? '').slice(0, 200)));
  });
  if (opts.pipelined) conn.owe(authenticated);
  else await authenticated;
}

async function readAuthFrame(conn: PcpConnection, types: string[], phase: 'salt' | 'auth', user: string): Promise<Frame> {
  try {
    return await conn.expect(types, phase === 'salt' ? 'the salt request' : 'authentication', phase);
  } catch (err) {
    // Every auth refusal is a FATAL E frame; turn it into the error a DBA can act on.
    if (err instanceof PcpServerError) throw new PcpAuthError(conn.name, user, formatServerMessage(err.report), { cause: err });
    throw err;
  }
}

const CountSchema = z.pipe(
  z.pipe(z.string().check(z.regex(/^\d{1,4}$/)), z.transform(Number)),
  z.number().check(z.int(), z.minimum(0), z.maximum(MAX_NODES)),
);

export async function nodeCount(conn: PcpConnection): Promise<number> {
  conn.send('L');
  const frame = await conn.expect(['l'], 'node count');
  const rest = expectTag(conn, strings(conn, frame, 'node count'), 'CommandComplete', 'node count reply');
  const n = CountSchema.safeParse(rest[0]);
  if (!n.success) throw conn.fail(new PcpProtocolError(conn.name, `node count "${(rest[0] ?? '').slice(0, 20)}"`));
  return n.data;
}

/** Node ids go to pgpool as text it atoi()s: "abc" would mean node 0, so check them here. */
export function validateNodeId(id: number, count: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= count)
    throw new PcpInvalidRequestError(`node id ${String(id)} is not valid: pgpool has ${count} backend(s), ids 0 to ${count - 1}`);
}

export interface NodeInfoResult {
  layout: NodeInfoLayout | undefined;
  nodes: NodeInfo[];
}

function decodeOrDie(conn: PcpConnection, id: number, fields: string[]): NodeInfo {
  const r = decodeNodeInfo(id, fields);
  if (!r.ok) throw conn.fail(new PcpProtocolError(conn.name, r.error));
  return r.node;
}

/**
 * Node info for ids, from one `I` request. 4.3+ answers ArraySize / NodeInfo×k / CommandComplete;
 * 4.0–4.2 answer a single CommandComplete frame carrying the fields.
 */
async function requestNodeInfo(conn: PcpConnection, idText: string, firstId: number): Promise<NodeInfo[]> {
  conn.send('I', cstrings(idText));
  const first = strings(conn, await conn.expect(['i'], `node info ${idText}`), 'node info');
  if (first[0] === 'CommandComplete') return [decodeOrDie(conn, firstId, first.slice(1))];
  const sizeText = expectTag(conn, first, 'ArraySize', 'node info reply')[0];
  const size = CountSchema.safeParse(sizeText);
  if (!size.success) throw conn.fail(new PcpProtocolError(conn.name, `node info ArraySize "${(sizeText ?? '').slice(0, 20)}"`));
  const nodes: NodeInfo[] = [];
  for (let i = 0; i < size.data; i++) {
    const rec = strings(conn, await conn.expect(['i'], `node info ${idText}`), 'node info');
    nodes.push(decodeOrDie(conn, firstId + i, expectTag(conn, rec, 'NodeInfo', 'node info record')));
  }
  const end = strings(conn, await conn.expect(['i'], `node info ${idText}`), 'node info');
  expectTag(conn, end, 'CommandComplete', 'node info end');
  return nodes;
}

export async function nodeInfo(conn: PcpConnection, id: number, count: number): Promise<NodeInfo> {
  validateNodeId(id, count);
  const nodes = await requestNodeInfo(conn, String(id), id);
  const node = nodes[0];
  if (nodes.length !== 1 || !node) throw conn.fail(new PcpProtocolError(conn.name, `node info for one node returned ${nodes.length}`));
  return node;
}

/**
 * Every node: one `I -1` on 4.3+ (its ArraySize is NUM_BACKENDS, so no `L` is needed); 4.0–4.2
 * refuse -1 with an ERROR that leaves the connection usable, and are asked `L` then id by id.
 */
export async function nodeInfoAll(conn: PcpConnection): Promise<NodeInfoResult> {
  let nodes: NodeInfo[];
  try {
    nodes = await requestNodeInfo(conn, '-1', 0);
  } catch (err) {
    if (!(err instanceof PcpServerError) || err.fatal) throw err;
    const count = await nodeCount(conn);
    nodes = [];
    for (let id = 0; id < count; id++) nodes.push(await nodeInfo(conn, id, count));
  }
  return { layout: nodes[0]?.layout, nodes };
}

async function simpleCommand(conn: PcpConnection, type: string, reply: string, payload: Buffer, what: string): Promise<void> {
  conn.send(type, payload);
  const frame = await conn.expect([reply], what);
  expectTag(conn, strings(conn, frame, what), 'CommandComplete', `${what} reply`);
}

export async function attach(conn: PcpConnection, id: number, count: number): Promise<void> {
  validateNodeId(id, count);
  await simpleCommand(conn, 'C', 'c', cstrings(String(id)), `attach of node ${id}`);
}

/**
 * Non-graceful detach only. The graceful form ('d') can wedge pgpool 4.0–4.4 for good and hangs
 * 4.5.0–4.5.11/4.6.0–4.6.6/4.7.0–4.7.1; no node-info layout tells 4.4 from later, so it is never sent.
 */
export async function detach(conn: PcpConnection, id: number, count: number): Promise<void> {
  validateNodeId(id, count);
  await simpleCommand(conn, 'D', 'd', cstrings(String(id)), `detach of node ${id}`);
}

/**
 * Promote, always in the 4.3 wire form ("<id> \0" + option byte), which ≤4.2 also read correctly.
 * Switchover needs a 4.3+ layout as proof; older servers would silently do a plain promote.
 * The reply letter is 'd', as for detach.
 */
export async function promote(
  conn: PcpConnection,
  id: number,
  count: number,
  opts: { switchover: boolean; layout: NodeInfoLayout | undefined },
): Promise<void> {
  validateNodeId(id, count);
  if (opts.switchover && (opts.layout === undefined || !supportsSwitchover(opts.layout)))
    throw new PcpUnsupportedError(`pgpool at ${conn.name} is older than 4.3 (node-info layout ${opts.layout ?? 'unknown'}); it has no switchover promote`);
  const payload = Buffer.concat([cstrings(`${id} `), Buffer.from(opts.switchover ? 's' : 'n', 'latin1')]);
  await simpleCommand(conn, 'J', 'd', payload, `promote of node ${id}`);
}

export const HealthCheckStatsSchema = z.strictObject({
  nodeId: z.number().check(z.int()),
  host: z.string(),
  port: z.number().check(z.int()),
  status: z.string(),
  role: z.string(),
  lastStatusChange: z.string(),
  totalCount: z.number(),
  successCount: z.number(),
  failCount: z.number(),
  skipCount: z.number(),
  retryCount: z.number(),
  averageRetryCount: z.number(),
  maxRetryCount: z.number(),
  maxHealthCheckDuration: z.number(),
  minHealthCheckDuration: z.number(),
  averageHealthCheckDuration: z.number(),
  lastHealthCheck: z.string(),
  lastSuccessfulHealthCheck: z.string(),
  lastSkipHealthCheck: z.string(),
  lastFailedHealthCheck: z.string(),
});
export type HealthCheckStats = z.infer<typeof HealthCheckStatsSchema>;
const HC_KEYS = Object.keys(HealthCheckStatsSchema.shape) as (keyof HealthCheckStats)[];
const HC_NUMERIC = new Set<string>(HC_KEYS.slice(6, 16).concat(['nodeId', 'port']));

/** Health-check statistics (4.2+; older servers answer FATAL "unknown PCP packet type"). */
export async function healthCheckStats(conn: PcpConnection, id: number, count: number): Promise<HealthCheckStats> {
  validateNodeId(id, count);
  conn.send('H', cstrings(String(id)));
  const frame = await conn.expect(['h'], `health check stats of node ${id}`);
  const fields = expectTag(conn, strings(conn, frame, 'health check stats'), 'CommandComplete', 'health check stats');
  if (fields.length !== HC_KEYS.length)
    throw conn.fail(new PcpProtocolError(conn.name, `health check stats with ${fields.length} fields (expected ${HC_KEYS.length})`));
  const obj: Record<string, string | number> = {};
  HC_KEYS.forEach((k, i) => {
    const v = fields[i] ?? '';
    obj[k] = HC_NUMERIC.has(k) ? (v === '' ? Number.NaN : Number(v)) : v;
  });
  const parsed = HealthCheckStatsSchema.safeParse(obj);
  if (!parsed.success || Object.values(parsed.data).some((v) => typeof v === 'number' && Number.isNaN(v)))
    throw conn.fail(new PcpProtocolError(conn.name, 'health check stats fields are not numbers where numbers belong'));
  return parsed.data;
}

const WdNodeSchema = z.looseObject({
  ID: z.optional(z.number().check(z.int())),
  NodeName: z.string(),
  HostName: z.string(),
  State: z.number().check(z.int()),
  StateName: z.string(),
  DelegateIP: z.optional(z.string()),
  WdPort: z.optional(z.number().check(z.int())),
  PgpoolPort: z.optional(z.number().check(z.int())),
  Priority: z.optional(z.number().check(z.int())),
  Membership: z.optional(z.number().check(z.int())),
  MembershipString: z.optional(z.string()),
});
/** Watchdog JSON; 4.0/4.1 say Master*, 4.2+ Leader*; 4.3 adds membership fields. */
export const WatchdogInfoSchema = z.pipe(
  z.looseObject({
    RemoteNodeCount: z.number().check(z.int()),
    QuorumStatus: z.number().check(z.int()),
    AliveNodeCount: z.number().check(z.int()),
    Escalated: z.number().check(z.int()),
    LeaderNodeName: z.optional(z.string()),
    LeaderHostName: z.optional(z.string()),
    MasterNodeName: z.optional(z.string()),
    MasterHostName: z.optional(z.string()),
    NodeCount: z.number().check(z.int()),
    WatchdogNodes: z.array(WdNodeSchema),
  }),
  z.transform((w) => ({
    ...w,
    leaderNodeName: w.LeaderNodeName ?? w.MasterNodeName ?? '',
    leaderHostName: w.LeaderHostName ?? w.MasterHostName ?? '',
  })),
);
export type WatchdogInfo = z.infer<typeof WatchdogInfoSchema>;

export async function watchdogInfo(conn: PcpConnection): Promise<WatchdogInfo> {
  conn.send('W', cstrings('-1'));
  const frame = await conn.expect(['w'], 'watchdog info');
  const rest = expectTag(conn, strings(conn, frame, 'watchdog info'), 'CommandComplete', 'watchdog info');
  let json: unknown;
  try {
    json = JSON.parse(rest[0] ?? '');
  } catch (err) {
    throw conn.fail(new PcpProtocolError(conn.name, 'watchdog info is not JSON', { cause: err }));
  }
  // JSON escapes (\u001b) decode to control characters: escape them again like every pgpool text.
  const parsed = WatchdogInfoSchema.safeParse(escapeControlsDeep(json));
  if (!parsed.success) throw conn.fail(new PcpProtocolError(conn.name, `watchdog info JSON: ${parsed.error.issues[0] ? describeIssue(parsed.error.issues[0]) : 'invalid'}`));
  return parsed.data;
}

export const PoolParamSchema = z.strictObject({ name: z.string(), value: z.string(), description: z.string() });
export type PoolParam = z.infer<typeof PoolParamSchema>;

/** Pool status: the one reply whose ArraySize is a raw int32, not text. */
export async function poolStatus(conn: PcpConnection): Promise<PoolParam[]> {
  conn.send('B');
  const head = await conn.expect(['b'], 'pool status');
  const tag = Buffer.from('ArraySize\0', 'latin1');
  if (head.payload.length !== tag.length + 4 || !head.payload.subarray(0, tag.length).equals(tag))
    throw conn.fail(new PcpProtocolError(conn.name, 'pool status does not start with a binary ArraySize'));
  const size = head.payload.readInt32BE(tag.length);
  if (size < 0 || size > 10_000) throw conn.fail(new PcpProtocolError(conn.name, `pool status ArraySize ${size}`));
  const out: PoolParam[] = [];
  for (let i = 0; i < size; i++) {
    const rec = expectTag(conn, strings(conn, await conn.expect(['b'], 'pool status'), 'pool status'), 'ProcessConfig', 'pool status record');
    const p = PoolParamSchema.safeParse({ name: rec[0], value: rec[1], description: rec[2] });
    if (!p.success || rec.length !== 3) throw conn.fail(new PcpProtocolError(conn.name, 'pool status record without name, value, description'));
    out.push(p.data);
  }
  expectTag(conn, strings(conn, await conn.expect(['b'], 'pool status'), 'pool status'), 'CommandComplete', 'pool status end');
  return out;
}
