import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NodeEventSchema } from '../../contracts/events.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';
import { readEvents, runHook, sandbox, type Sandbox } from '../../testkit/hooks.ts';

/** Each hook form, spawned for real, lands in the cluster's intake stream as the expected event. */
const FORMS: { args: string[]; env?: Record<string, string>; expect: Record<string, unknown> }[] = [
  {
    args: ['efm', 'attach', '10.0.0.1', 's'],
    expect: { type: 'efm.attach', backend: '10.0.0.1', nodeType: 'standby' },
  },
  { args: ['efm', 'attach', '10.0.0.1', 'p'], expect: { type: 'efm.attach', nodeType: 'primary' } },
  {
    args: ['efm', 'detach', '10.0.0.1:5432', 'm'],
    expect: { type: 'efm.detach', backend: '10.0.0.1:5432', nodeType: 'primary' },
  },
  {
    args: ['efm', 'post-promotion', '10.0.0.2', '10.0.0.1'],
    expect: { type: 'efm.post-promotion', newPrimary: '10.0.0.2', failedPrimary: '10.0.0.1' },
  },
  {
    args: ['efm', 'post-promotion', '10.0.0.2', ''],
    expect: { type: 'efm.post-promotion', failedPrimary: null },
  },
  {
    args: ['efm', 'remote-pre-promotion', '10.0.0.2'],
    expect: { type: 'efm.remote-pre-promotion', newPrimary: '10.0.0.2' },
  },
  {
    args: ['efm', 'remote-post-promotion', '10.0.0.2'],
    expect: { type: 'efm.remote-post-promotion', newPrimary: '10.0.0.2' },
  },
  { args: ['--node', '10.0.0.2', 'efm', 'resumed'], expect: { type: 'efm.resumed', backend: '10.0.0.2' } },
  {
    args: ['efm', 'db-failure'],
    env: { PCPFLOW_NODE: '10.0.0.2' },
    expect: { type: 'efm.db-failure', backend: '10.0.0.2' },
  },
  { args: ['efm', 'primary-isolated'], expect: { type: 'efm.primary-isolated', backend: null } },
  { args: ['efm', 'master-isolated'], expect: { type: 'efm.primary-isolated' } },
  {
    args: ['efm', 'notification', 'EFM subject', 'body line 1\nline 2'],
    expect: { type: 'efm.notification', subject: 'EFM subject' },
  },
  {
    args: [
      'pgpool',
      'follow-primary',
      ' 1',
      '10.0.0.1',
      ' 5432',
      '/pg/data',
      ' 0',
      '10.0.0.2',
      ' 0',
      ' 0',
      ' 5432',
      '/pg/data',
      '10.0.0.2',
      ' 5432',
    ],
    expect: { type: 'pgpool.follow-primary', nodeId: 1, backend: '10.0.0.1:5432', newPrimaryId: 0 },
  },
  {
    args: [
      'pgpool',
      'follow-master',
      '1',
      '10.0.0.1',
      '5432',
      '""',
      '-1',
      '""',
      '-1',
      '-1',
      '-1',
      '""',
      '""',
      '-1',
    ],
    expect: { type: 'pgpool.follow-primary', newPrimaryId: null, newPrimaryHost: null },
  },
  {
    args: ['event', 'rebuild-started', '10.0.0.1'],
    expect: { type: 'operator.rebuild-started', source: 'operator' },
  },
  { args: ['event', 'rebuild-done', '10.0.0.1'], expect: { type: 'operator.rebuild-done' } },
];

describe('pcpflow-hook publishes every hook form', () => {
  let redis: TestRedis;
  let box: Sandbox;
  before(async () => {
    redis = await startRedis();
    box = sandbox();
    box.writeConfig({ redisUrl: redis.url });
  });
  after(async () => {
    await redis.stop();
    box.cleanup();
  });

  for (const form of FORMS) {
    it(form.args.join(' ').replace(/\n/g, '\\n'), async () => {
      const before = (await readEvents(redis.url, 'c1')).length;
      const run = await runHook(['--config', box.configPath, ...form.args], { ...form.env });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '');
      const events = await readEvents(redis.url, 'c1');
      assert.equal(events.length, before + 1);
      const ev = events.at(-1);
      assert.ok(ev);
      assert.deepEqual(NodeEventSchema.parse(ev), ev);
      for (const [k, v] of Object.entries(form.expect)) assert.deepEqual(ev[k], v, k);
      assert.equal(ev.cluster, 'c1');
    });
  }

  it('takes the cluster and config from the environment', async () => {
    box.writeConfig({ redisUrl: redis.url, clusters: [{ name: 'c1' }, { name: 'c2' }] });
    const run = await runHook(['efm', 'attach', '10.0.0.1', 's'], {
      PCPFLOW_CONFIG: box.configPath,
      PCPFLOW_CLUSTER: 'c2',
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await readEvents(redis.url, 'c2')).length, 1);
    const flag = await runHook([
      '--cluster=c2',
      '--config',
      box.configPath,
      'efm',
      'attach',
      '10.0.0.2',
      's',
    ]);
    assert.equal(flag.code, 0, flag.stderr);
    assert.equal((await readEvents(redis.url, 'c2')).length, 2);
    box.writeConfig({ redisUrl: redis.url });
  });
});
