import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { AuditStore } from '../../audit/store.ts';
import { runDrill, WATCHDOG_SCENARIOS } from '../../lab/drills/index.ts';
import { pgpools } from '../../lab/index.ts';
import { pollUntil } from '../../lab/wait.ts';
import { labId, startWatchdogLab, type TestLab } from '../../testkit/lab.ts';

/**
 * The watchdog drills on a real cluster of three pgpool-II 4.3.5 (lab --pgpools 3): a pgpool
 * frozen during a standby detach and attach, the watchdog leader lost in the middle of a failover,
 * a pgpool restarted with a stale pgpool_status. Every step ends with every running pgpool
 * showing the expected table, over PCP and SHOW pool_nodes.
 */
const LAB_ID = labId(20);
let lab: TestLab;

before(async () => {
  lab = await startWatchdogLab(LAB_ID);
});
after(async () => {
  await lab?.stop();
});

test('pgpool-frozen, pgpool-leader-loss and pgpool-rejoin end with every pgpool showing the same, expected table', async () => {
  const lines: string[] = [];
  const results = await runDrill(lab, WATCHDOG_SCENARIOS, { workers: 2, say: (l) => lines.push(l) });
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(
    failed.map((r) => `${r.scenario}: ${r.step}: ${r.problems.join('; ')}`),
    [],
    lines.join('\n'),
  );
  assert.deepEqual([...new Set(results.map((r) => r.scenario))], WATCHDOG_SCENARIOS.map((s) => s.name), 'every scenario ran');
  const leaderLoss = results.find((r) => r.measured?.from === 'leader-loss');
  assert.ok(leaderLoss?.measured, 'the time from leader loss to a converged view is measured');
  for (const r of results) if (r.measured) process.stdout.write(`# ${r.scenario}: ${r.measured.from} → converged view on every running pgpool: ${(r.measured.ms / 1000).toFixed(2)} s\n`);
  // Every pgpool is back in the end: the rejoin step restarted the one the leader-loss drill killed.
  for (const p of lab.pgpools) assert.ok(pgpools.pgpoolPid(lab, p.role), `${p.role} runs`);
  assert.equal(results.at(-1)?.view.filter((r) => r.pgpool).length, lab.pgpools.length * lab.nodes.length, 'the last step read all three pgpools');

  const redis = new Redis(lab.redisUrl);
  try {
    const store = new AuditStore(redis, lab.config.redis.keyPrefix);
    // A drill step ends when pgpool's table is final; an action pgpool had already carried out by
    // itself may still be confirming on every reachable pgpool then. Its outcome is what this
    // test judges, so wait until every attempt that started has one.
    const records = await pollUntil(
      'every started action attempt to have its outcome in the audit',
      async () => {
        const all = (await store.query('lab')).map((r) => r.record);
        const attempts = all.filter((r) => r.kind === 'action-attempt');
        const open = attempts.filter((r) => r.outcome === 'started' && !attempts.some((o) => o.actionId === r.actionId && o.attempt === r.attempt && o.outcome !== 'started'));
        return open.length === 0 ? all : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    assert.deepEqual((await store.verify('lab')).problems, []);
    // No double effect: no action was carried out twice, none gave up.
    const changed = new Map<string, number>();
    for (const r of records) if (r.kind === 'action-attempt' && r.outcome === 'changed' && r.actionId) changed.set(r.actionId, (changed.get(r.actionId) ?? 0) + 1);
    assert.deepEqual([...changed].filter(([, n]) => n > 1), []);
    assert.deepEqual(records.filter((r) => r.kind === 'action-attempt' && r.outcome === 'gave-up').map((r) => r.note), []);
    // Nothing lost: every hook the drill called was received and audited.
    const hookCalls = lines.filter((l) => l.trim().startsWith('hook ')).length;
    const received = records.filter((r) => r.kind.startsWith('event-') || (r.kind === 'decision' && r.eventType && r.eventType !== 'action.outcome' && r.eventType !== 'reconciler.drift'));
    assert.ok(received.length >= hookCalls, `${received.length} audited events for ${hookCalls} hook calls`);
    // The promotion after the leader loss went through a pgpool that was still alive, confirmed by both.
    // 'already' counts too: with the standbys out before EFM promotes, pgpool may adopt the new
    // primary by itself before pcpflow's promote reaches it.
    const attempts = records.filter((r) => r.kind === 'action-attempt' && r.note.includes('make pgpool primary'));
    const promote = attempts.find((r) => r.outcome === 'changed' || r.outcome === 'already');
    assert.ok(promote, `the promotion was confirmed; attempts: ${attempts.map((r) => `${r.outcome}: ${r.note}`).join(' | ')}`);
    assert.match(promote.note, /confirmed by every reachable pgpool: pgpool\d, pgpool\d\)/);
  } finally {
    redis.disconnect();
  }
});
