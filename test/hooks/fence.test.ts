import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keys } from '../../contracts/keys.ts';
import { RespClient } from '../../hooks/resp.ts';
import { listPending } from '../../hooks/outbox.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';
import { PREFIX, redisCall, runHook, sandbox, type Sandbox } from '../../testkit/hooks.ts';

/**
 * Stands in for the decider and executor: blocks on the intake stream (XREAD BLOCK, no polling)
 * until the fence event arrives, then writes the results the hook waits for.
 */
async function answerNextFence(
  url: string,
  cluster: string,
  answer: (eventId: string) => [string, string][],
): Promise<void> {
  const u = new URL(url);
  const client = await RespClient.connect(
    { host: u.hostname, port: Number(u.port), db: 0 },
    Date.now() + 30_000,
  );
  try {
    const stream = keys.intake(PREFIX, cluster);
    const last = await client.call('XREVRANGE', stream, '+', '-', 'COUNT', '1');
    let from = Array.isArray(last) && Array.isArray(last[0]) ? String(last[0][0]) : '0-0';
    for (;;) {
      const reply = await client.call('XREAD', 'BLOCK', '20000', 'STREAMS', stream, from);
      assert.ok(Array.isArray(reply), 'no fence event arrived');
      const entries = (reply[0] as unknown[])[1] as [string, string[]][];
      for (const [id, fields] of entries) {
        from = id;
        const ev = JSON.parse(fields[1] ?? '{}') as { type?: string; eventId?: string };
        if (ev.type === 'efm.fence' && ev.eventId) {
          for (const [k, v] of answer(ev.eventId)) await client.call('SET', k, v);
          return;
        }
      }
    }
  } finally {
    client.close();
  }
}

describe('fence waits for the detach to be confirmed, then applies the policy', () => {
  let redis: TestRedis;
  let box: Sandbox;
  const clusters = [
    { name: 'open', fence: { mode: 'fail-open', timeoutMs: 300 } },
    { name: 'closed', fence: { mode: 'fail-closed', timeoutMs: 300 } },
    { name: 'patient', fence: { mode: 'fail-closed', timeoutMs: 20_000 } },
  ];
  const fence = (cluster: string) =>
    runHook(['--config', box.configPath, '--cluster', cluster, 'efm', 'fence', '10.0.0.2', '10.0.0.1']);

  before(async () => {
    redis = await startRedis();
    box = sandbox();
    box.writeConfig({ redisUrl: redis.url, clusters });
  });
  after(async () => {
    await redis.stop();
    box.cleanup();
  });

  it('no decider, fail-open: exits 0 with a warning', async () => {
    const run = await fence('open');
    assert.equal(run.code, 0);
    assert.match(run.stderr, /warning: fence not confirmed \(no decision on the event.*fail-open: exiting 0/);
  });

  it('no decider, fail-closed: exits 3 so EFM does not promote', async () => {
    const run = await fence('closed');
    assert.equal(run.code, 3);
    assert.match(run.stderr, /^pcpflow-hook: fence not confirmed \(no decision on the event before fence\.timeoutMs.*fail-closed: exiting 3/);
    assert.equal(run.stderr.trim().split('\n').length, 1, 'one line saying why');
  });

  it('confirmed detach (changed, already): exits 0', async () => {
    const answering = answerNextFence(redis.url, 'patient', (eventId) => [
      [
        keys.eventResult(PREFIX, 'patient', eventId),
        JSON.stringify({ actionIds: ['a1', 'a2'], note: 'detach old primary' }),
      ],
      [keys.actionResult(PREFIX, 'patient', 'a1'), JSON.stringify({ result: 'changed', attempt: 1 })],
      [keys.actionResult(PREFIX, 'patient', 'a2'), JSON.stringify({ result: 'already', attempt: 2 })],
    ]);
    const [run] = await Promise.all([fence('patient'), answering]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
  });

  it('no action needed: exits 0', async () => {
    const answering = answerNextFence(redis.url, 'patient', (eventId) => [
      [
        keys.eventResult(PREFIX, 'patient', eventId),
        JSON.stringify({ actionIds: [], note: 'already detached' }),
      ],
    ]);
    const [run] = await Promise.all([fence('patient'), answering]);
    assert.equal(run.code, 0, run.stderr);
  });

  it('an action that gave up under fail-closed: exits 3 and says which', async () => {
    const answering = answerNextFence(redis.url, 'patient', (eventId) => [
      [keys.eventResult(PREFIX, 'patient', eventId), JSON.stringify({ actionIds: ['a9'], note: 'detach' })],
      [
        keys.actionResult(PREFIX, 'patient', 'a9'),
        JSON.stringify({ result: 'gave-up', attempt: 8, reason: 'pgpool unreachable' }),
      ],
    ]);
    const [run] = await Promise.all([fence('patient'), answering]);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /action a9 gave up: pgpool unreachable/);
  });

  it('Redis down: the fence event is spooled and the policy applies at once', async () => {
    await redis.stop();
    const closed = await fence('closed');
    assert.equal(closed.code, 3);
    assert.match(closed.stderr, /^pcpflow-hook: fence not confirmed \(the fence event could not reach Redis \(.*\), so nothing can confirm the detach; spooled to .*\); fail-closed: exiting 3/);
    assert.equal(closed.stderr.trim().split('\n').length, 1, 'one line saying why');
    const open = await fence('open');
    assert.equal(open.code, 0);
    assert.match(open.stderr, /^pcpflow-hook: warning: fence not confirmed \(the fence event could not reach Redis .*fail-open: exiting 0, EFM promotes/);
    assert.equal(open.stderr.trim().split('\n').length, 1, 'one line saying why');
    assert.equal(listPending(box.outbox, 'closed').length, 1);
    assert.equal(listPending(box.outbox, 'open').length, 1);
    await redis.start();
    assert.equal(await redisCall(redis.url, 'PING'), 'PONG');
  });
});
