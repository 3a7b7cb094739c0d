import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listPending } from '../../hooks/outbox.ts';
import { freePort, startRedis, type TestRedis } from '../../testkit/redis.ts';
import { readEvents, runCli, runHook, sandbox, type Sandbox } from '../../testkit/hooks.ts';

const PUBLISH_TIMEOUT_MS = 800;
// How long a hook takes with Redis down is measured by `npm run bench` (bench/hooks.ts), not asserted here.

const subjectsOf = (events: Record<string, unknown>[]) => events.map((e) => String(e.subject));

describe('outbox: Redis down → spooled; back → delivered in order, none twice', () => {
  let redis: TestRedis;
  let box: Sandbox;
  before(async () => {
    redis = await startRedis();
    box = sandbox();
    box.writeConfig({ redisUrl: redis.url, publishTimeoutMs: PUBLISH_TIMEOUT_MS });
  });
  after(async () => {
    await redis.stop();
    box.cleanup();
  });

  it('spools 100 hook calls while Redis is down, each exiting 0', async () => {
    await redis.stop();
    for (let i = 0; i < 100; i++) {
      const run = await runHook(['--config', box.configPath, 'efm', 'notification', `n${i}`, 'body']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /warning: Redis unavailable .* spooled to /);
    }
    assert.equal(listPending(box.outbox, 'c1').length, 100);
  });

  it('`pcpflow outbox flush` delivers all 100 in order once Redis is back', async () => {
    await redis.start();
    const flush = await runCli(['outbox', 'flush', '--config', box.configPath]);
    assert.equal(flush.code, 0, flush.stderr);
    assert.match(flush.stdout, /c1: delivered 100, already delivered 0/);
    const events = await readEvents(redis.url, 'c1');
    assert.deepEqual(
      subjectsOf(events),
      Array.from({ length: 100 }, (_, i) => `n${i}`),
    );
    assert.equal(new Set(events.map((e) => e.eventId)).size, 100);
    assert.equal(listPending(box.outbox, 'c1').length, 0);
  });

  it('a second flush, and a flush after a crash before the files were removed, add nothing', async () => {
    await redis.stop();
    const run = await runHook(['--config', box.configPath, 'efm', 'notification', 'crash-1', 'body']);
    assert.equal(run.code, 0);
    const [spooled] = listPending(box.outbox, 'c1');
    assert.ok(spooled);
    const kept = join(box.dir, 'kept.event');
    copyFileSync(spooled.path, kept);
    await redis.start();
    assert.equal((await runCli(['outbox', 'flush', '--config', box.configPath])).code, 0);
    // As if the process died after XADD and before unlink: the file is back.
    copyFileSync(kept, spooled.path);
    const again = await runCli(['outbox', 'flush', '--config', box.configPath]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /delivered 0, already delivered 1/);
    const events = await readEvents(redis.url, 'c1');
    assert.equal(subjectsOf(events).filter((s) => s === 'crash-1').length, 1);
    // (redis-server runs without persistence: the restart emptied the stream)
    assert.equal(events.length, 1);
  });

  it('a hook delivers the backlog before its own event; racing flushers deliver each once, in order', async () => {
    await redis.stop();
    for (let i = 0; i < 30; i++)
      assert.equal(
        (await runHook(['--config', box.configPath, 'efm', 'notification', `r${i}`, 'b'])).code,
        0,
      );
    await redis.start();
    const [a, b, hook] = await Promise.all([
      runCli(['outbox', 'flush', '--config', box.configPath]),
      runCli(['outbox', 'flush', '--config', box.configPath]),
      runHook(['--config', box.configPath, 'efm', 'notification', 'live', 'b']),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(hook.code, 0, hook.stderr);
    const subjects = subjectsOf(await readEvents(redis.url, 'c1'));
    assert.deepEqual(subjects, [...Array.from({ length: 30 }, (_, i) => `r${i}`), 'live']);
    assert.deepEqual(readdirSync(join(box.outbox, 'c1')), []);
  });

  it('a Redis that accepts connections but never answers makes the hook spool at its deadline', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    const port = await freePort();
    silent.listen(port, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const cfg = sandbox();
      cfg.writeConfig({ redisUrl: `redis://127.0.0.1:${port}`, publishTimeoutMs: 300 });
      const run = await runHook(['--config', cfg.configPath, 'efm', 'attach', '10.0.0.1', 's']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /did not answer within the deadline/);
      assert.equal(listPending(cfg.outbox, 'c1').length, 1);
      cfg.cleanup();
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
