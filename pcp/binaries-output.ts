// What the pcp_* binaries print, parsed: apart from running them so the parsers are tested on text alone.
import * as z from 'zod/mini';
import { describeIssue } from '../contracts/issues.ts';
import { PGPOOL_NODE_STATUSES } from '../contracts/pgpool-node.ts';
import { NodeInfoSchema, type NodeInfo } from './node-info.ts';
import { PcpServerMessageSchema, type PcpServerMessage } from './messages.ts';

const SEVERITY_LINE = /^(ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|LOG|DEBUG):\s+(.*)$/;

/** libpcp's stderr rendering of an E frame: "<S>:  <M>" then "DETAIL:  <D>", "HINT:  <H>". */
export function parseStderrReport(stderr: string): PcpServerMessage | null {
  const lines = stderr.split('\n');
  const fields: Record<string, string> = {};
  for (const line of lines) {
    const sev = SEVERITY_LINE.exec(line);
    if (sev && fields.severity === undefined) {
      fields.severity = sev[1] ?? '';
      fields.message = sev[2] ?? '';
      continue;
    }
    const extra = /^(DETAIL|HINT):\s+(.*)$/.exec(line);
    if (extra && fields.severity !== undefined) fields[extra[1] === 'DETAIL' ? 'detail' : 'hint'] = extra[2] ?? '';
  }
  const parsed = PcpServerMessageSchema.safeParse(fields);
  return parsed.success ? parsed.data : null;
}

const LABELS: Record<string, string> = {
  Hostname: 'host',
  Port: 'port',
  Status: 'status',
  Weight: 'weight',
  'Status Name': 'statusName',
  'Backend Status Name': 'backendStatus',
  Role: 'role',
  'Backend Role': 'backendRole',
  'Replication Delay': 'delay',
  'Replication State': 'replState',
  'Replication Sync State': 'replSyncState',
  'Last Status Change': 'lastStatusChange',
};

const Matching = (re: RegExp) => z.string().check(z.regex(re));
const NumberText = (re: RegExp) => z.pipe(Matching(re), z.transform(Number));
const VerboseRecordSchema = z.object({
  host: z.string(),
  port: NumberText(/^\d+$/),
  status: NumberText(/^[0-3]$/),
  weight: NumberText(/^\d+(\.\d+)?$/),
  statusName: z.optional(z.string()),
  backendStatus: z.optional(z.string()),
  role: z.enum(['primary', 'standby', 'main', 'replica', 'master', 'slave']),
  backendRole: z.optional(z.string()),
  delay: z.optional(Matching(/^\d+(\.\d+)?$/)),
  replState: z.optional(z.string()),
  replSyncState: z.optional(z.string()),
  lastStatusChange: z.optional(Matching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)),
});

/** `pcp_node_info -v` blocks ("Label   : value" lines, a blank line after each node). */
export function parseVerboseNodeInfo(stdout: string, firstId: number): NodeInfo[] | string {
  const blocks = stdout.split(/\n\s*\n/).map((b) => b.trim()).filter((b) => b.length > 0);
  const out: NodeInfo[] = [];
  for (const [i, block] of blocks.entries()) {
    const rec: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^([A-Za-z ]+?)\s*:\s?(.*)$/.exec(line);
      const key = m ? LABELS[m[1] ?? ''] : undefined;
      if (m && key) rec[key] = (m[2] ?? '').trim();
    }
    const r = VerboseRecordSchema.safeParse(rec);
    if (!r.success) return `node ${firstId + i}: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0] ? describeIssue(r.error.issues[0]) : 'invalid'}`;
    const v = r.data;
    const none = (s: string | undefined): string | undefined => (s === 'none' ? '' : s);
    const node = NodeInfoSchema.safeParse({
      id: firstId + i,
      host: v.host,
      port: v.port,
      status: PGPOOL_NODE_STATUSES[v.status] ?? 'unused',
      statusCode: v.status,
      quarantine: v.statusName === undefined ? undefined : v.statusName === 'quarantine',
      role: v.role === 'primary' || v.role === 'main' || v.role === 'master' ? 'primary' : 'standby',
      rawRole: v.role === 'master' ? 'main' : v.role === 'slave' ? 'replica' : v.role,
      weight: v.weight,
      backendStatus: v.backendStatus,
      backendRole: v.backendRole,
      // 4.4+ prints a time delay as seconds with a fraction, a byte lag as an integer
      replicationDelay: v.delay === undefined ? undefined : v.delay.includes('.') ? Math.round(Number(v.delay) * 1e6) : Number(v.delay),
      replicationDelayUnit: v.delay === undefined ? undefined : v.delay.includes('.') ? 'microseconds' : 'bytes',
      replicationState: none(v.replState),
      replicationSyncState: none(v.replSyncState),
      lastStatusChange: v.lastStatusChange ? localTimeToIso(v.lastStatusChange) : undefined,
    });
    if (!node.success) return `node ${firstId + i}: ${node.error.issues[0] ? describeIssue(node.error.issues[0]) : 'invalid'}`;
    out.push(node.data);
  }
  return out;
}

function localTimeToIso(text: string): string {
  const [d, t] = text.split(' ');
  const [y, mo, da] = (d ?? '').split('-').map(Number);
  const [h, mi, s] = (t ?? '').split(':').map(Number);
  return new Date(y ?? 0, (mo ?? 1) - 1, da ?? 1, h ?? 0, mi ?? 0, s ?? 0).toISOString();
}
