import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { AuditStore } from '../../audit/store.ts';
import { runDrill, SCENARIOS } from '../../lab/drills/index.ts';
import { formatVerify, parseAuditLines, verifyDecisions } from '../../audit/verify.ts';
import { createPcpOps } from '../../pcp/index.ts';
import { labId, startLab, type TestLab } from '../../testkit/lab.ts';

/**
 * The seed architecture's failover scenarios, for real: PostgreSQL stopped, promoted and rebuilt,
 * hooks called as EFM calls them, two `pcpflow worker` processes, and pgpool's table (over PCP and
 * SHOW pool_nodes) checked after every step.
 */
const LAB_ID = labId(8);
const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));
let lab: TestLab;

before(async () => {
  lab = await startLab({ id: LAB_ID });
});
after(async () => {
  await lab?.stop();
});

test('every drill scenario ends with pgpool showing the expected table', async () => {
  const lines: string[] = [];
  const results = await runDrill(lab, SCENARIOS, { workers: 2, say: (l) => lines.push(l) });
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(
    failed.map((r) => `${r.scenario}: ${r.step}: ${r.problems.join('; ')}`),
    [],
    lines.join('\n'),
  );
  assert.equal(new Set(results.map((r) => r.scenario)).size, SCENARIOS.length, 'every scenario ran');

  // Final state: after failover, rebuild, switchover, switchback and failover-reads (pg1 → pg0, pg1
  // rebuilt), pg0 is primary and all are attached.
  const cluster = lab.config.clusters[0];
  assert.ok(cluster);
  const { nodes } = await createPcpOps(cluster).nodes();
  const byHost = new Map(nodes.map((n) => [n.host, n]));
  assert.equal(byHost.get(`127.0.${LAB_ID}.11`)?.role, 'primary');
  for (const n of nodes) assert.ok(n.status === 'up' || n.status === 'waiting', `${n.host} is ${n.status}`);

  const redis = new Redis(lab.redisUrl);
  try {
    const store = new AuditStore(redis, lab.config.redis.keyPrefix);
    const verify = await store.verify('lab');
    assert.deepEqual(verify.problems, []);
    const records = (await store.query('lab')).map((r) => r.record);
    // The agent-crash scenario: EFM's detach of a healthy primary is audited and nothing is done.
    const crash = records.find((r) => r.eventType === 'efm.detach' && r.backend?.startsWith(`127.0.${LAB_ID}.11`) && r.kind !== 'decision');
    assert.ok(crash, 'the detach of the healthy primary is audited as not acted on');
    assert.ok((crash.actions ?? []).length === 0);
    // Two agents reported the same standby failure: one decision, one duplicate.
    assert.ok(records.some((r) => r.kind === 'event-duplicate' && r.eventType === 'efm.detach'));
    // failover-reads: the standby re-pointed late was waited for, and the audit says how long.
    const waited = records.filter((r) => r.kind === 'action-attempt' && r.outcome === 'changed' && /waited \d+ ms for .* to stream from/.test(r.note));
    assert.ok(waited.length >= 1, 'a wait on streaming is audited with its duration');

    // Replay proves the decisions: the exported audit of every scenario, decided again offline
    // from the snapshots recorded with it, yields exactly the recorded decisions.
    const exported = records.map((r) => JSON.stringify(r)).join('\n');
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'drills-audit.jsonl'), `${exported}\n`);
    const replayed = verifyDecisions(parseAuditLines(exported));
    assert.equal(replayed.difference, null, formatVerify(replayed));
    assert.equal(replayed.withoutSnapshot, 0);
    assert.ok(replayed.identical >= 30, `only ${replayed.identical} decisions verified`);
  } finally {
    redis.disconnect();
  }
});
