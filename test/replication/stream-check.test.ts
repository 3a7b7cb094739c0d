import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Config } from '../../contracts/config.ts';
import * as nodes from '../../lab/nodes.ts';
import { pollUntil } from '../../lab/wait.ts';
import { createPcpOps, type PcpOps } from '../../pcp/index.ts';
import { awaitStreaming } from '../../replication/await-streaming.ts';
import { chooseStreamSource } from '../../replication/choose.ts';
import { PgpoolStreamSource } from '../../replication/pgpool-source.ts';
import { PostgresStreamSource } from '../../replication/postgres-source.ts';
import type { StreamSource } from '../../replication/source.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startFleetMember } from '../../workers/fleet.ts';
import { clusterStatus } from '../../workers/status.ts';
import { labId, startLab, type TestLab } from '../../testkit/lab.ts';
import { attached, hookEvent, publish, records, testConfig, waitRecord, waitSettled } from '../workers/helpers.ts';

/**
 * After a promotion a standby goes back into load balancing only once it streams from the new
 * primary: real PostgreSQL streaming replication, real pgpool 4.3.5, the worker in-process.
 */
const LAB_ID = labId(11);
const ip = (n: number) => `127.0.${LAB_ID}.${n}`;
const [P1, P2] = [`${ip(12)}:5432`, `${ip(13)}:5432`];
/** One look in a watch of its own, closed after (a watch keeps its sessions open). */
async function lookOnce(source: StreamSource, standby: string, primary: string, signal: AbortSignal) {
  const w = source.watch(standby, primary);
  try {
    return await w.look(signal);
  } finally {
    await w.close?.();
  }
}

const logger = createLogger({ level: 'warn', pretty: false });
let lab: TestLab;
let redis: Redis;
let pcp: PcpOps;

before(async () => {
  lab = await startLab({ id: LAB_ID });
  redis = new Redis(lab.redisUrl, { maxRetriesPerRequest: null });
  const cluster = lab.config.clusters[0];
  assert.ok(cluster);
  pcp = createPcpOps(cluster);
});
after(async () => {
  redis?.disconnect();
  await lab?.stop();
});

test("a backend pgpool and the config do not share is a warning at bootstrap and in status", async () => {
  const { config } = testConfig(lab, (c) => {
    c.redis.keyPrefix = '{listcheck}';
    c.clusters[0]?.backends.push({ address: ip(14), port: 5432 });
  });
  const cluster = config.clusters[0];
  assert.ok(cluster);
  const member = await startFleetMember({ config, roles: ['decider'], logger, http: false });
  try {
    await publish(redis, '{listcheck}', hookEvent(['efm', 'resumed'], 'lab', ip(12)));
    const boot = await waitRecord(redis, '{listcheck}', (r) => r.to === 'bootstrapped', 'the bootstrap record');
    assert.match(boot.note, new RegExp(`Warning: ${ip(14).replace(/\./g, '\\.')}:5432 is in pcpflow's config but not in pgpool's backend list`));
  } finally {
    await member.stop();
  }
  const status = await clusterStatus(cluster, redis, '{listcheck}', createPcpOps(cluster));
  assert.equal(status.warnings.length, 1, status.warnings.join('\n'));
  assert.match(status.warnings[0] ?? '', /not in pgpool's backend list/);
});

test('the lab offers both sources; auto takes PostgreSQL, which answers within one poll', async () => {
  const cluster = lab.config.clusters[0];
  assert.ok(cluster);
  const auto = await chooseStreamSource(cluster, pcp);
  assert.equal(auto.kind === 'source' && auto.source.name, 'postgres');
  const viaPgpool = await chooseStreamSource({ ...cluster, streamCheck: { ...cluster.streamCheck, source: 'pgpool' } }, pcp);
  assert.equal(viaPgpool.kind === 'source' && viaPgpool.source.name, 'pgpool', viaPgpool.note);
  // No PostgreSQL credentials and a pgpool that cannot be asked: said, not guessed.
  const deaf = { ...cluster, pcp: { ...cluster.pcp, endpoints: [{ host: ip(10), port: 1 }] }, streamCheck: { source: 'auto' as const, pollIntervalMs: 50, deadlineMs: 1000 } };
  const none = await chooseStreamSource(deaf, createPcpOps(deaf));
  assert.equal(none.kind, 'unavailable');
  assert.match(none.note, /no way to check that a standby follows the new primary: pgpool could not be asked .*streamCheck\.postgres is not configured/);
});

test('after the promote the standby that still follows the dead primary stays out until the deadline: attention and a notification', async () => {
  const notified = join(lab.dir, 'stream-notified.txt');
  const { config } = testConfig(lab, (c: Config) => {
    const cl = c.clusters[0];
    if (!cl) return;
    cl.streamCheck.deadlineMs = 4_000;
    cl.notificationCommand = [process.execPath, '-e', `require('node:fs').writeFileSync(${JSON.stringify(notified)}, process.argv.slice(1).join('\\n'))`];
  });
  const member = await startFleetMember({ config, roles: ['decider', 'executor'], logger, http: false });
  let everAttached = false;
  let watching = true;
  let promotedSeen = false;
  const watcher = (async () => {
    while (watching) {
      const seen = await pcp.nodes().catch(() => null);
      const p1 = seen?.nodes.find((n) => n.host === ip(12));
      const p2 = seen?.nodes.find((n) => n.host === ip(13));
      if (p1?.role === 'primary') promotedSeen = true;
      if (promotedSeen && p2 && attached(p2)) everAttached = true;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await waitSettled(redis, '{pcpflow}').catch(() => undefined);
    await nodes.stopNode(lab, 'pg0', { immediate: true });
    await publish(redis, '{pcpflow}', hookEvent(['efm', 'fence', ip(12), ip(11)], 'lab', ip(12)));
    // EFM waits for the fence before it promotes; pgpool then searches for a primary and finds none.
    await pollUntil('pg0 detached and pgpool without a primary', async () => {
      const seen = (await pcp.nodes()).nodes;
      return seen.find((n) => n.host === ip(11))?.status === 'down' && seen.every((n) => n.role === 'standby') ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 50 });
    await nodes.promoteNode(lab, 'pg1');
    await publish(redis, '{pcpflow}', hookEvent(['efm', 'post-promotion', ip(12), ip(11)], 'lab', ip(12)));
    const gaveUp = await waitRecord(
      redis,
      '{pcpflow}',
      (r) => r.eventType === 'action.outcome' && r.backend === P2 && r.to === 'attention',
      'the wait on pg2 gave up',
    );
    assert.match(gaveUp.note, /did not stream from 127\.0\.\d+\.12:5432 within 4000 ms/);
    await waitSettled(redis, '{pcpflow}');
  } finally {
    watching = false;
    await watcher;
    await member.stop();
  }
  assert.equal(promotedSeen, true, 'pgpool made pg1 its primary');
  assert.equal(everAttached, false, 'pg2 was never attached while it followed the dead primary');
  assert.ok(existsSync(notified), 'a notification was sent');
  assert.match(readFileSync(notified, 'utf8'), /await-streaming .* gave up[\s\S]*Re-point it to 127\.0\.\d+\.12:5432/);
  const all = await records(redis, '{pcpflow}');
  assert.ok(!all.some((r) => r.actions?.some((a) => a.type === 'attach' && a.backend === P2)), 'no attach of pg2 was ever decided');
});

test('the sources see a standby follow the new primary only once it is re-pointed; the wait ends within a poll of it', async () => {
  const pg = new PostgresStreamSource({ user: 'postgres', database: 'postgres', connectTimeoutMs: 2_000, ssl: 'disable' }, undefined);
  const cluster = lab.config.clusters[0];
  assert.ok(cluster);
  const viaPgpool = new PgpoolStreamSource(cluster, pcp, 1_000);
  const signal = AbortSignal.timeout(60_000);

  const stale = await lookOnce(pg, P2, P1, signal);
  assert.equal(stale.streaming, false, stale.seen);
  assert.doesNotMatch(stale.seen, /from 127\.0\.\d+\.12:5432 on/, stale.seen);
  const stalePgpool = await lookOnce(viaPgpool, P2, P1, signal);
  assert.equal(stalePgpool.streaming, false, stalePgpool.seen);
  assert.ok((await lookOnce(pg, P1, P1, signal)).streaming === false, 'a primary follows nobody');

  const short = await awaitStreaming(pg, { standby: P2, primary: P1, pollIntervalMs: 50, deadlineMs: 1_000, signal });
  assert.equal(short.result, 'failed');
  assert.equal(short.retryable, false);
  assert.match(short.reason ?? '', /did not stream from .* within 1000 ms/);

  const waiting = awaitStreaming(pg, { standby: P2, primary: P1, pollIntervalMs: 50, deadlineMs: 60_000, signal });
  await nodes.repointStandby(lab, 'pg2', 'pg1');
  const done = await waiting;
  assert.equal(done.result, 'changed', done.reason);
  assert.match(done.reason ?? '', /waited \d+ ms for .* to stream from .*streaming from 127\.0\.\d+\.12:5432/);

  const byPgpool = await awaitStreaming(viaPgpool, { standby: P2, primary: P1, pollIntervalMs: 100, deadlineMs: 30_000, signal });
  assert.notEqual(byPgpool.result, 'failed', byPgpool.reason);
  assert.match(byPgpool.reason ?? '', /pgpool's sr_check shows .* streaming/);
});
