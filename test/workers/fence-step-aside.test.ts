import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Redis } from 'ioredis';
import { keys } from '../../contracts/keys.ts';
import { callHook } from '../../lab/drills/hook-call.ts';
import { nodes } from '../../lab/index.ts';
import { pollUntil } from '../../lab/wait.ts';
import { createPcpOps, type PcpNode } from '../../pcp/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startFleetMember, type FleetMember } from '../../workers/fleet.ts';
import { labId, startLab, type TestLab } from '../../testkit/lab.ts';
import { records, testConfig } from './helpers.ts';

/**
 * The window issue 11 §1 closes, on a real pgpool 4.3.5 without follow_primary_command, as the
 * EDB architecture runs it: once the fence detached the dead primary, pgpool looks for a primary by
 * itself and adopts the node EFM promotes (marking nobody down), or with none found sends writes to
 * its main node, the promoted one here. Either way the new primary takes writes through pgpool
 * before pcpflow's promote, and its promote is then answered "already primary". A standby still
 * following the dead primary must therefore be out of load balancing before the fence hook returns
 * (EFM promotes right after), and stay out until it streams from the new primary.
 */
const LAB_ID = labId(33);
const prefix = '{pcpflow}';
const TABLE = 'pcpflow_step_aside';
let lab: TestLab;
let member: FleetMember;
let redis: Redis;

before(async () => {
  lab = await startLab({ id: LAB_ID });
  redis = new Redis(lab.redisUrl, { maxRetriesPerRequest: null });
  const { config } = testConfig(lab);
  member = await startFleetMember({ config, roles: ['decider', 'executor'], logger: createLogger({ level: 'silent', pretty: false }), http: false });
  await pollUntil('the decider bootstrapped from pgpool', async () => ((await redis.exists(keys.snapshot(prefix, 'lab'))) ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 50,
  });
});
after(async () => {
  await member?.stop();
  redis?.disconnect();
  await lab?.stop();
});

const address = (name: string) => {
  const n = lab.nodes.find((x) => x.name === name);
  assert.ok(n, name);
  return n;
};
const hostOf = (name: string) => address(name).address;
const isUp = (n: PcpNode | undefined) => n?.status === 'up' || n?.status === 'waiting';

async function pgpoolNode(name: string): Promise<PcpNode | undefined> {
  const cluster = lab.config.clusters[0];
  assert.ok(cluster);
  const { nodes: seen } = await createPcpOps(cluster).nodes();
  return seen.find((n) => n.host === hostOf(name));
}

async function hook(argv: string[], node: string): Promise<void> {
  const r = await callHook(lab.configPath, 'lab', argv, { node: hostOf(node) });
  assert.equal(r.code, 0, `hook ${argv.join(' ')}: ${r.stderr}`);
}

/** One session through pgpool, as an application opens it: the node that served it and the rows it saw. */
async function viaPgpool(text: string, opts: { count?: boolean } = {}): Promise<{ server: string; n: number }> {
  const c = new pg.Client({ host: lab.pgpool.host, port: lab.pgpool.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(text);
    // The table's creation may not have reached a standby pgpool balances this read to yet.
    if (opts.count === false) return { server: '?', n: -1 };
    const r = await c.query<{ a: string; n: string }>(`select host(inet_server_addr()) as a, (select count(*) from ${TABLE})::text as n`);
    return { server: r.rows[0]?.a ?? '?', n: Number(r.rows[0]?.n ?? -1) };
  } finally {
    await c.end().catch(() => undefined);
  }
}

test('the fence takes the standby that must follow the new primary out before EFM promotes; it is back once it streams', async () => {
  await viaPgpool(`create table if not exists ${TABLE} (id int)`, { count: false });
  await nodes.waitReplayed(lab, 'pg1', 'pg0');
  await nodes.waitReplayed(lab, 'pg2', 'pg0');

  // EFM: the primary's database dies; the standby being promoted runs the fence (synchronous).
  await nodes.stopNode(lab, 'pg0', { immediate: true });
  await hook(['efm', 'fence', hostOf('pg1'), hostOf('pg0')], 'pg1');
  // The fence returned: EFM promotes now. pg2 still follows the dead pg0 and must take no reads.
  assert.ok(!isUp(await pgpoolNode('pg2')), 'pg2 is out of load balancing when the fence returns');
  assert.ok(isUp(await pgpoolNode('pg1')), 'the node being promoted keeps serving');

  await nodes.promoteNode(lab, 'pg1');
  // pgpool takes writes on pg1 before pcpflow's promote (adopted as primary, or as its main node).
  await pollUntil('a write through pgpool lands on the promoted pg1', async () => (await viaPgpool(`insert into ${TABLE} values (1)`).catch(() => undefined)) ?? undefined, {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  for (let i = 0; i < 20; i++) {
    const r = await viaPgpool('select 1');
    assert.notEqual(r.server, hostOf('pg2'), 'no read is balanced to the standby still following the dead primary');
    assert.equal(r.n, 1, `read ${i} through pgpool (served by ${r.server}) sees the committed row`);
  }

  // post-promotion: pcpflow's promote, which pgpool may answer "already primary" (marking nobody
  // down). Once it is decided, pg2 is still out: nothing re-pointed it yet.
  await hook(['efm', 'post-promotion', hostOf('pg1'), hostOf('pg0')], 'pg1');
  await pollUntil(
    "pcpflow's promote of pg1 is done",
    async () => {
      const all = await records(redis, prefix);
      const promote = all.flatMap((r) => (r.kind === 'decision' ? (r.actions ?? []) : [])).find((a) => a.type === 'promote');
      return promote && all.some((r) => r.kind === 'action-attempt' && r.actionId === promote.actionId && (r.outcome === 'changed' || r.outcome === 'already')) ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  );
  const p1 = await pgpoolNode('pg1');
  assert.ok(isUp(p1) && p1?.role === 'primary', 'pg1 is pgpool primary');
  assert.ok(!isUp(await pgpoolNode('pg2')), 'pg2 stays out until it streams from pg1');

  // EFM re-points pg2 (late): the existing wait on streaming attaches it again.
  await nodes.repointStandby(lab, 'pg2', 'pg1');
  await pollUntil('pg2 back in pgpool', async () => (isUp(await pgpoolNode('pg2')) ? true : undefined), { timeoutMs: 60_000, intervalMs: 50 });
  const all = await records(redis, prefix);
  assert.ok(
    all.some((r) => r.kind === 'decision' && r.eventType === 'efm.fence' && r.backend?.startsWith(hostOf('pg2')) && /before .* can take writes through pgpool/.test(r.note)),
    'the audit says why the fence detached the standby',
  );
  assert.ok(all.some((r) => r.kind === 'action-attempt' && /waited \d+ ms for .*pg2|waited \d+ ms for 127\.0\.\d+\.13/.test(r.note)), 'the wait on streaming is audited');
});
