import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { AuditBody } from '../../contracts/audit.ts';
import { keys } from '../../contracts/keys.ts';
import { formatHead, linkRecords, parseHead } from '../../audit/chain.ts';
import { commitDecision, type CommitDecisionArgs } from '../../workers/commit-decision.ts';
import { finishAttempt } from '../../workers/finish-attempt.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';

/** The two Lua scripts a decision and an action attempt end with, against a real Redis. */

let server: TestRedis;
let redis: Redis;
const prefix = '{t}';
const cluster = 'c1';

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

const body = (note: string): AuditBody => ({ kind: 'decision', cluster, at: new Date(0).toISOString(), backend: null, note });

async function step(version: string | null, next: string, eventId: string | null): Promise<Awaited<ReturnType<typeof commitDecision>>> {
  const headText = await redis.get(keys.auditHead(prefix, cluster));
  const { records, head } = linkRecords(parseHead(headText), [body(`step ${next}`)]);
  const args: CommitDecisionArgs = {
    prefix,
    cluster,
    expected: { version, head: headText },
    next: { version: next, snapshot: `{"v":${next}}`, lastId: `${next}-0`, head: formatHead(head) },
    records,
    actions: [],
    seen: eventId ? { eventId, ttlS: 60 } : null,
    result: eventId ? { eventId, value: { actionIds: [], note: 'n' }, ttlS: 60 } : null,
    streamMaxLen: 0,
  };
  return commitDecision(redis, args);
}

test('commit: an event whose seen marker exists is refused as decided before, and nothing is written', async () => {
  assert.equal((await step(null, '1', null)).status, 'committed');
  assert.equal((await step('1', '2', 'e1')).status, 'committed');
  const streamBefore = await redis.xlen(keys.audit(prefix, cluster));
  // The same event again (a redelivery after its drain): the script finds its seen marker.
  assert.deepEqual(await step('2', '3', 'e1'), { status: 'seen' });
  assert.equal(await redis.hget(keys.snapshot(prefix, cluster), 'version'), '2');
  assert.equal(await redis.xlen(keys.audit(prefix, cluster)), streamBefore);
  // Another event goes through; a stale version is still refused first.
  assert.equal((await step('2', '3', 'e2')).status, 'committed');
  assert.deepEqual(await step('2', '3', 'e3'), { status: 'version-moved' });
});

test("finish: an attempt's result record, final result and outcome event land together, or not at all when the head moved", async () => {
  const headText = await redis.get(keys.auditHead(prefix, cluster));
  const { records, head } = linkRecords(parseHead(headText), [body('attempt result')]);
  const args = { prefix, cluster, actionId: 'a1', records, streamMaxLen: 0, result: '{"result":"changed","attempt":1}', resultTtlS: 60, outcomeEvent: '{"type":"action.outcome"}' };
  const intake = keys.intake(prefix, cluster);
  assert.equal(await finishAttempt(redis, { ...args, expectedHead: 'stale', nextHead: formatHead(head) }), false);
  assert.equal(await redis.exists(keys.actionResult(prefix, cluster, 'a1')), 0);
  assert.equal(await redis.xlen(intake), 0);
  assert.equal(await finishAttempt(redis, { ...args, expectedHead: headText, nextHead: formatHead(head) }), true);
  assert.equal(await redis.get(keys.actionResult(prefix, cluster, 'a1')), args.result);
  assert.equal(await redis.get(keys.auditHead(prefix, cluster)), formatHead(head));
  const [[, fields] = ['', []]] = await redis.xrange(intake, '-', '+');
  assert.deepEqual(fields, ['event', args.outcomeEvent]);
});
