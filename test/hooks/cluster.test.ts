import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort } from '../../testkit/redis.ts';
import { PREFIX, runHook, sandbox, type Sandbox } from '../../testkit/hooks.ts';

/**
 * With redis.cluster configured, the hook asks a node which master serves pcpflow's hash-tag slot
 * and publishes there. A real one-node Redis Cluster (all slots on it); redis.url points nowhere.
 */
let node: ChildProcess;
let port = 0;
let box: Sandbox;

before(async () => {
  box = sandbox();
  port = await freePort();
  node = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', `${box.dir}/nodes.conf`, '--dir', box.dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    node.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    node.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out.slice(-400)}`)));
  });
  const admin = new Redis({ host: '127.0.0.1', port });
  try {
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; i < 200 && (await admin.call('CLUSTER', 'INFO'))?.toString().includes('cluster_state:ok') !== true; i++)
      await new Promise((r) => setTimeout(r, 50));
  } finally {
    admin.disconnect();
  }
  box.writeConfig({ redisUrl: `redis://127.0.0.1:${await freePort()}` });
  const { readFileSync, writeFileSync } = await import('node:fs');
  writeFileSync(box.configPath, readFileSync(box.configPath, 'utf8').replace('redis:\n', `redis:\n  cluster: { nodes: [{ host: 127.0.0.1, port: ${port} }] }\n`));
});

after(async () => {
  if (node && node.exitCode === null && node.signalCode === null) {
    const exited = once(node, 'exit');
    node.kill('SIGKILL');
    await exited;
  }
  box?.cleanup();
});

test('the hook finds the master of its hash-tag slot in a Redis Cluster and publishes there', async () => {
  const run = await runHook(['--config', box.configPath, '--cluster', 'c1', 'efm', 'attach', '10.0.0.2', 's']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '', 'published directly, not spooled');
  const redis = new Redis({ host: '127.0.0.1', port });
  try {
    const entries = await redis.xrange(`${PREFIX}:intake:c1`, '-', '+');
    assert.equal(entries.length, 1);
    assert.match(entries[0]?.[1][1] ?? '', /"type":"efm.attach"/);
  } finally {
    redis.disconnect();
  }
});
