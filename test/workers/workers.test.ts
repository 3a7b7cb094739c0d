import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { keys } from '../../contracts/keys.ts';
import { AuditStore } from '../../audit/store.ts';
import type { NodeEvent } from '../../contracts/events.ts';
import type { Config } from '../../contracts/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startFleetMember, type FleetMember } from '../../workers/fleet.ts';
import { startWorker } from '../../lab/drills/fleet-processes.ts';
import { readState } from '../../lab/state.ts';
import { labId, startLab, type TestLab } from '../../testkit/lab.ts';
import { startRedis, freePort, type TestRedis } from '../../testkit/redis.ts';
import { startProxy } from '../../testkit/tcp-proxy.ts';
import { attached, hookEvent, publish, records, testConfig, waitNode, waitRecord, waitSettled } from './helpers.ts';

const LAB_ID = labId(6);
const STANDBY = `127.0.${LAB_ID}.13`;
const OTHER = `127.0.${LAB_ID}.12`;
let lab: TestLab;
let redisServer: TestRedis;
let redis: Redis;
let persistDir = '';
const prefix = '{pcpflow}';
const logger = createLogger({ level: (process.env.TEST_LOG_LEVEL as 'warn' | undefined) ?? 'warn', pretty: false });

before(async () => {
  lab = await startLab({ id: LAB_ID });
  persistDir = mkdtempSync(join(tmpdir(), 'pcpflow-redis-'));
  redisServer = await startRedis({ host: `127.0.${LAB_ID}.10`, persistDir });
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
});

after(async () => {
  redis?.disconnect();
  await redisServer?.stop();
  await lab?.stop();
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
});

function configFor(patch?: Parameters<typeof testConfig>[1]) {
  return testConfig(lab, (c) => {
    c.redis.url = redisServer.url;
    patch?.(c);
  });
}

async function withMember<T>(roles: Parameters<typeof startFleetMember>[0]['roles'], fn: (m: FleetMember) => Promise<T>, patch?: Parameters<typeof testConfig>[1]): Promise<T> {
  const { config } = configFor(patch);
  const member = await startFleetMember({ config, roles, logger, http: false });
  try {
    return await fn(member);
  } finally {
    await member.stop();
  }
}

test('a standby detach then attach: decided, executed, confirmed in pgpool, audited, outcome fed back', async () => {
  const { config } = configFor();
  await withMember(['decider', 'executor', 'reconciler'], async () => {
    const detach = await publish(redis, prefix, hookEvent(['efm', 'detach', STANDBY, 's']));
    await waitNode(config, STANDBY, (n) => n.status === 'down', `${STANDBY} down in pgpool`);
    await waitRecord(redis, prefix, (r) => r.eventType === 'action.outcome' && r.backend?.startsWith(STANDBY) === true, 'the detach outcome decided');
    const attach = await publish(redis, prefix, hookEvent(['efm', 'attach', STANDBY, 's']));
    await waitNode(config, STANDBY, attached, `${STANDBY} attached in pgpool`);
    await waitSettled(redis, prefix);
    const all = await records(redis, prefix);
    const forDetach = all.filter((r) => r.eventId === detach.eventId);
    assert.equal(forDetach[0]?.kind, 'decision', JSON.stringify(forDetach));
    assert.equal(forDetach[0]?.to?.split('.')[0], 'detached');
    const actionId = forDetach[0]?.actions?.[0]?.actionId;
    assert.ok(actionId, 'the decision names its action');
    const attempts = all.filter((r) => r.kind === 'action-attempt' && r.actionId === actionId).map((r) => r.outcome);
    assert.deepEqual(attempts, ['started', 'changed']);
    assert.ok(all.some((r) => r.eventId === attach.eventId && r.to?.split('.')[0] === 'up'), JSON.stringify(all.filter((r) => r.eventId === attach.eventId)));
    const verified = await new AuditStore(redis, prefix).verify('lab');
    assert.deepEqual(verified.problems, []);
  });
});

test('the same event delivered twice is decided once and acted on once', async () => {
  await withMember(['decider', 'executor'], async () => {
    const event = hookEvent(['efm', 'detach', STANDBY, 's']);
    await publish(redis, prefix, event);
    await publish(redis, prefix, event);
    await waitSettled(redis, prefix);
    const { config } = configFor();
    await waitNode(config, STANDBY, (n) => n.status === 'down', `${STANDBY} down`);
    const mine = (await records(redis, prefix)).filter((r) => r.eventId === event.eventId);
    assert.deepEqual(mine.map((r) => r.kind), ['decision', 'event-duplicate']);
    const jobs = (await redis.keys(`${prefix}:actions:${event.eventId}*`)).filter((k) => !k.endsWith(':lock'));
    assert.equal(jobs.length, 1, jobs.join(', '));
    await publish(redis, prefix, hookEvent(['efm', 'attach', STANDBY, 's']));
    await waitNode(config, STANDBY, attached, `${STANDBY} attached again`);
    await waitSettled(redis, prefix);
  });
});

test('three fleet members decide one cluster strictly serially and in intake order', async () => {
  const { config } = configFor();
  await withMember(['decider', 'executor'], () => waitSettled(redis, prefix));
  const members = await Promise.all([0, 1, 2].map(() => startFleetMember({ config, roles: ['decider'], logger, http: false })));
  try {
    await waitSettled(redis, prefix);
    const before = Number(await redis.hget(keys.snapshot(prefix, 'lab'), 'version'));
    const sent: NodeEvent[] = [];
    for (let i = 0; i < 30; i++) sent.push(await publish(redis, prefix, hookEvent(['efm', 'notification', `subject ${i}`, `body ${i}`])));
    await waitSettled(redis, prefix);
    const firsts = (await records(redis, prefix)).filter((r) => sent.some((e) => e.eventId === r.eventId));
    assert.deepEqual(firsts.map((r) => r.eventId), sent.map((e) => e.eventId), 'one record per event, in intake order');
    const after = Number(await redis.hget(keys.snapshot(prefix, 'lab'), 'version'));
    assert.equal(after - before, 30, 'one committed snapshot version per event');
  } finally {
    await Promise.all(members.map((m) => m.stop()));
  }
});

test('pgpool frozen for 10 s while an action is due: retries with backoff, then success, nothing lost', async () => {
  const pgpoolPid = Object.values(readState(join(lab.dir, 'lab.json')).processes).find((p) => p.kind === 'pgpool')?.pid;
  assert.ok(pgpoolPid, 'the lab recorded its pgpool pid');
  const { config } = configFor();
  await withMember(['decider', 'executor'], async () => {
    await publish(redis, prefix, hookEvent(['efm', 'detach', OTHER, 's']));
    await waitNode(config, OTHER, (n) => n.status === 'down', `${OTHER} down`);
    await waitSettled(redis, prefix);
    process.kill(-pgpoolPid, 'SIGSTOP');
    let event: NodeEvent | undefined;
    try {
      event = await publish(redis, prefix, hookEvent(['efm', 'attach', OTHER, 's']));
      const decision = await waitRecord(redis, prefix, (r) => r.eventId === event?.eventId && r.kind === 'decision', 'attach decided');
      const actionId = decision.actions?.[0]?.actionId;
      await waitRecord(redis, prefix, (r) => r.actionId === actionId && r.outcome === 'failed', 'a failed attempt while pgpool is frozen');
      await new Promise((r) => setTimeout(r, 10_000)); // the outage itself, not a wait for a result
    } finally {
      process.kill(-pgpoolPid, 'SIGCONT');
    }
    await waitNode(config, OTHER, attached, `${OTHER} attached after pgpool thawed`);
    await waitSettled(redis, prefix);
    const all = await records(redis, prefix);
    const decision = all.find((r) => r.eventId === event?.eventId && r.kind === 'decision');
    const attempts = all.filter((r) => r.actionId === decision?.actions?.[0]?.actionId && r.outcome !== 'started');
    assert.ok(attempts.length >= 2, `several attempts: ${attempts.map((a) => a.outcome).join(',')}`);
    assert.equal(attempts.at(-1)?.outcome, 'changed');
    assert.ok(all.some((r) => r.eventType === 'action.outcome' && r.payload && JSON.stringify(r.payload).includes(decision?.actions?.[0]?.actionId ?? '?')));
  });
});

test('Redis restarted mid-stream: the fleet reconnects and every event is decided', async () => {
  const { config } = configFor();
  await withMember(['decider', 'executor'], async () => {
    const first = await publish(redis, prefix, hookEvent(['efm', 'detach', STANDBY, 's']));
    await waitNode(config, STANDBY, (n) => n.status === 'down', `${STANDBY} down`);
    await redisServer.stop();
    await redisServer.start();
    const second = await publish(redis, prefix, hookEvent(['efm', 'attach', STANDBY, 's']));
    await waitNode(config, STANDBY, attached, `${STANDBY} attached after the restart`);
    await waitSettled(redis, prefix);
    const all = await records(redis, prefix);
    assert.ok(all.some((r) => r.eventId === first.eventId && r.kind === 'decision'));
    assert.ok(all.some((r) => r.eventId === second.eventId && r.kind === 'decision'));
  });
});

test('a worker SIGKILLed mid-action: the job is retried, one effective change, both attempts audited', async () => {
  const proxy = await startProxy({ host: lab.pcp.host, port: lab.pcp.port });
  // The relay listens on another port: give the worker a passfile line for it.
  const [, , user, password] = readFileSync(lab.pcp.passfile, 'utf8').trim().split(':');
  const passfile = join(lab.dir, 'proxy.pcppass');
  writeFileSync(passfile, `${proxy.host}:${proxy.port}:${user}:${password}\n`, { mode: 0o600 });
  const { config, path } = configFor((c) => {
    const cl = c.clusters[0];
    if (cl) cl.pcp = { ...cl.pcp, endpoints: [{ host: proxy.host, port: proxy.port }], passfile };
  });
  const logFile = join(lab.dir, 'log', 'killed-worker.log');
  let worker = await startWorker({ configPath: path, httpPort: await freePort(), logFile, roles: 'decider,executor' });
  try {
    await waitSettled(redis, prefix);
    proxy.pause();
    const event = await publish(redis, prefix, hookEvent(['efm', 'detach', STANDBY, 's']));
    const decision = await waitRecord(redis, prefix, (r) => r.eventId === event.eventId && r.kind === 'decision', 'detach decided');
    const actionId = decision.actions?.[0]?.actionId;
    await waitRecord(redis, prefix, (r) => r.actionId === actionId && r.outcome === 'started', 'attempt 1 started');
    await worker.kill();
    proxy.resume();
    worker = await startWorker({ configPath: path, httpPort: await freePort(), logFile, roles: 'decider,executor' });
    await waitNode(config, STANDBY, (n) => n.status === 'down', `${STANDBY} down after the retry`);
    await waitRecord(redis, prefix, (r) => r.actionId === actionId && (r.outcome === 'changed' || r.outcome === 'already'), 'the retried attempt finished');
    const mine = (await records(redis, prefix)).filter((r) => r.actionId === actionId);
    const started = mine.filter((r) => r.outcome === 'started').map((r) => r.attempt);
    assert.ok(started.length >= 2, `two attempts started: ${JSON.stringify(mine.map((r) => [r.attempt, r.outcome]))}`);
    assert.equal(mine.filter((r) => r.outcome === 'changed' || r.outcome === 'already').length, 1, 'exactly one effective result');
    await publish(redis, prefix, hookEvent(['efm', 'attach', STANDBY, 's']));
    await waitNode(config, STANDBY, attached, `${STANDBY} attached again`);
    await waitSettled(redis, prefix);
  } finally {
    await worker.stop();
    await proxy.stop();
  }
});

test('the reconciler repairs a change made behind pcpflow\'s back, audited as drift', async () => {
  const fastReconcile = (c: Config) => {
    const cl = c.clusters[0];
    if (cl) cl.reconcileIntervalMs = 500;
  };
  const { config } = configFor(fastReconcile);
  await withMember(['decider', 'executor', 'reconciler'], async () => {
    await waitSettled(redis, prefix);
    const { createPcpOps } = await import('../../pcp/index.ts');
    const cluster = config.clusters[0];
    assert.ok(cluster);
    const manual = await createPcpOps(cluster).ensureDetached(`${STANDBY}:5432`);
    assert.equal(manual.result, 'changed');
    const drift = await waitRecord(redis, prefix, (r) => r.eventType === 'reconciler.drift' && r.backend?.startsWith(STANDBY) === true, 'drift decided');
    assert.ok(drift.actions?.some((a) => a.type === 'attach'), JSON.stringify(drift));
    await waitNode(config, STANDBY, attached, `${STANDBY} re-attached by the reconciler`);
  }, fastReconcile);
});

test('`pcpflow audit --verify` names an edited and a deleted record', async () => {
  const { path } = configFor();
  const cli = join(import.meta.dirname, '..', '..', 'bin', 'pcpflow.js');
  const ok = spawnSync(process.execPath, [cli, 'audit', '--verify', '--config', path], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /lab: audit chain intact \(\d+ records\)/);
  const entries = await redis.xrange(keys.audit(prefix, 'lab'), '-', '+');
  await redis.del(keys.audit(prefix, 'lab'));
  for (const [i, [, fields]] of entries.entries()) {
    if (i === 4) continue;
    const rec = JSON.parse(fields[1] ?? '{}') as { note: string; seq: number };
    if (i === 2) rec.note = 'nothing to see';
    await redis.xadd(keys.audit(prefix, 'lab'), '*', 'r', JSON.stringify(rec));
  }
  const bad = spawnSync(process.execPath, [cli, 'audit', '--verify', '--config', path], { encoding: 'utf8' });
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /record seq 3 .*altered/);
  assert.match(bad.stdout, /record seq 5 is missing/);
});

test('an action that cannot succeed gives up: attention, a notification, and the reconciler clears it once the DBA has done the action', async () => {
  const notified = join(lab.dir, 'notified.txt');
  const deadPort = await freePort();
  const [, , user, password] = readFileSync(lab.pcp.passfile, 'utf8').trim().split(':');
  const passfile = join(lab.dir, 'dead.pcppass');
  writeFileSync(passfile, `${lab.pcp.host}:${deadPort}:${user}:${password}\n`, { mode: 0o600 });
  const broken = (c: Config) => {
    const cl = c.clusters[0];
    if (!cl) return;
    cl.pcp = { ...cl.pcp, endpoints: [{ host: lab.pcp.host, port: deadPort }], passfile };
    cl.retry = { attempts: 2, backoffMs: 50, maxBackoffMs: 100, jitter: 0 };
    // argv, no shell: node writes the subject and body it was given.
    cl.notificationCommand = [process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(notified)}, process.argv.slice(1).join('\\n'))`];
  };
  let event: NodeEvent | undefined;
  await withMember(['decider', 'executor'], () => waitSettled(redis, prefix));
  await withMember(['decider', 'executor'], async () => {
    event = await publish(redis, prefix, hookEvent(['efm', 'detach', STANDBY, 's']));
    const mine = `"actionId":"${event.eventId}.0"`;
    await waitRecord(
      redis,
      prefix,
      (r) => r.eventType === 'action.outcome' && r.kind === 'decision' && (JSON.stringify(r.payload) ?? '').includes(mine) && (JSON.stringify(r.payload) ?? '').includes('"result":"gave-up"'),
      'this detach\'s gave-up outcome decided',
    );
    await waitSettled(redis, prefix);
  }, broken);
  const text = readFileSync(notified, 'utf8');
  assert.ok(text.includes(`detach ${STANDBY}:5432 gave up`), text);
  assert.ok(!text.includes(password ?? '\u0000'), 'no secret in the notification');
  const { clusterStatus } = await import('../../workers/status.ts');
  const { createPcpOps } = await import('../../pcp/index.ts');
  const { config } = configFor();
  const cl = config.clusters[0];
  assert.ok(cl);
  const status = await clusterStatus(cl, redis, prefix, createPcpOps(cl));
  assert.equal(status.backends.find((b) => b.address.startsWith(STANDBY))?.machine, 'attention');
  const attempts = (await records(redis, prefix)).filter((r) => r.kind === 'action-attempt' && r.actionId?.startsWith(event?.eventId ?? '?'));
  assert.ok(attempts.some((r) => r.outcome === 'failed'), JSON.stringify(attempts.map((a) => a.note)));

  // The DBA fixes the cause and does the detach by hand; the next reconcile clears the attention.
  const manual = await createPcpOps(cl).ensureDetached(`${STANDBY}:5432`);
  assert.equal(manual.result, 'changed');
  const fast = (c: Config) => {
    const x = c.clusters[0];
    if (x) x.reconcileIntervalMs = 300;
  };
  await withMember(['decider', 'executor', 'reconciler'], async () => {
    await waitRecord(redis, prefix, (r) => r.eventType === 'reconciler.drift' && r.from === 'attention' && r.to === 'detached', 'attention cleared by the reconciler');
    await publish(redis, prefix, hookEvent(['efm', 'attach', STANDBY, 's']));
    await waitNode(config, STANDBY, attached, `${STANDBY} attached again`);
    await waitSettled(redis, prefix);
  }, fast);
});
