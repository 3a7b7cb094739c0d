import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort, startRedis, type TestRedis } from '../../testkit/redis.ts';
import { PREFIX, runCli, runHook, sandbox, type Sandbox } from '../../testkit/hooks.ts';

/**
 * With redis.sentinel configured, the hook asks a real Sentinel for the current master and
 * publishes there (redis.url points nowhere in this test, so only discovery can succeed).
 */
let master: TestRedis;
let sentinel: ChildProcess;
let sentinelPort = 0;
let box: Sandbox;

before(async () => {
  master = await startRedis();
  box = sandbox();
  sentinelPort = await freePort();
  const conf = join(box.dir, 'sentinel.conf');
  writeFileSync(conf, `bind 127.0.0.1\nport ${sentinelPort}\ndir ${box.dir}\nsentinel monitor pcpmaster 127.0.0.1 ${master.port} 1\n`);
  sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    sentinel.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('+monitor master pcpmaster')) resolve();
    });
    sentinel.once('exit', (code) => reject(new Error(`sentinel exited ${code}: ${out.slice(-400)}`)));
  });
  const deadPort = await freePort();
  box.writeConfig({ redisUrl: `redis://127.0.0.1:${deadPort}` });
  writeFileSync(
    box.configPath,
    `${readConfig().replace('redis:\n', `redis:\n  sentinel: { name: pcpmaster, sentinels: [{ host: 127.0.0.1, port: ${await freePort()} }, { host: 127.0.0.1, port: ${sentinelPort} }] }\n`)}`,
  );
});

function readConfig(): string {
  return readFileSync(box.configPath, 'utf8');
}

after(async () => {
  if (sentinel && sentinel.exitCode === null) {
    const exited = once(sentinel, 'exit');
    sentinel.kill('SIGKILL');
    await exited;
  }
  await master?.stop();
  box?.cleanup();
});

test('the hook finds the master through Sentinel (skipping a dead sentinel) and publishes there', async () => {
  const run = await runHook(['--config', box.configPath, '--cluster', 'c1', 'efm', 'detach', '10.0.0.2', 's']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '', 'published directly, not spooled');
  const redis = new Redis(master.url);
  try {
    const entries = await redis.xrange(`${PREFIX}:intake:c1`, '-', '+');
    assert.equal(entries.length, 1);
    assert.match(entries[0]?.[1][1] ?? '', /"type":"efm.detach"/);
  } finally {
    redis.disconnect();
  }
  const status = await runCli(['outbox', 'flush', '--config', box.configPath]);
  assert.equal(status.code, 0, status.stderr);
});
