import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { AuditStore } from '../../audit/store.ts';
import type { PcpNode, PgpoolState, PgpoolsView } from '../../pcp/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createMetrics } from '../../workers/metrics.ts';
import { auditPgpoolViews, recordPgpoolMetrics } from '../../workers/pgpool-views.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';

/**
 * What the reconciler records when the pgpools of a watchdog cluster disagree, on a real Redis:
 * each change audited once (naming the pgpool, the backend and both views), the return to
 * agreement audited once, and the per-endpoint metrics.
 */
let server: TestRedis;
let redis: Redis;
before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis?.disconnect();
  await server?.stop();
});

const node = (id: number, status: PcpNode['status'], role: PcpNode['role'] = 'standby'): PcpNode => ({ id, host: `127.0.0.${11 + id}`, port: 5432, status, role, weight: 0.33 });
function pgpool(endpoint: string, role: string | null, nodes: PcpNode[] | null): PgpoolState<PcpNode> {
  return { endpoint, host: endpoint, port: 9898, reachable: nodes !== null, error: nodes ? null : 'connect refused', watchdogRole: role, leader: 'pgpool0', nodes };
}
function view(stale: PcpNode['status']): PgpoolsView<PcpNode> {
  const leader = pgpool('pgpool0', 'LEADER', [node(0, 'up', 'primary'), node(1, 'waiting'), node(2, 'down')]);
  return { pgpools: [leader, pgpool('pgpool1', 'STANDBY', [node(0, 'waiting', 'primary'), node(1, 'up'), node(2, stale)]), pgpool('pgpool2', null, null)], authoritative: leader };
}

test('a disagreement is audited once with each view, and so is the return to agreement', async () => {
  const audit = new AuditStore(redis, '{t}');
  const metrics = createMetrics();
  const deps = { cluster: 'c1', redis, prefix: '{t}', logger: createLogger({ level: 'silent' }), metrics, audit };

  const diff = await auditPgpoolViews(deps, view('up'));
  assert.deepEqual(diff.map((d) => `${d.endpoint} ${d.backend} ${d.seen} vs ${d.referenceEndpoint} ${d.reference}`), ['pgpool1 127.0.0.13:5432 up/standby vs pgpool0 down/standby']);
  await auditPgpoolViews(deps, view('up'));
  await auditPgpoolViews(deps, view('down'));
  await auditPgpoolViews(deps, view('down'));

  const records = (await audit.query('c1')).map((r) => r.record);
  assert.equal(records.length, 2, records.map((r) => r.note).join('\n'));
  assert.equal(records[0]?.kind, 'drift');
  assert.equal(records[0]?.endpoint, 'pgpool1');
  assert.match(records[0]?.note ?? '', /pgpool1 shows 127\.0\.0\.13:5432 up\/standby where pgpool0 shows down\/standby/);
  assert.match(records[1]?.note ?? '', /same backends again \(pgpool0, pgpool1; leader pgpool0\)/);

  recordPgpoolMetrics(metrics, 'c1', view('down'));
  const text = await metrics.registry.metrics();
  assert.match(text, /pcpflow_pgpool_reachable\{cluster="c1",endpoint="pgpool2"\} 0/);
  assert.match(text, /pcpflow_pgpool_watchdog_role\{cluster="c1",endpoint="pgpool0",role="LEADER"\} 1/);
  assert.match(text, /pcpflow_pgpool_last_disagreement_timestamp_seconds\{cluster="c1",endpoint="pgpool1"\} \d+/);
});
