import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Config } from '../../contracts/config.ts';
import { keys } from '../../contracts/keys.ts';
import { pollUntil } from '../../lab/wait.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startFleetMember } from '../../workers/fleet.ts';
import { labId, startLab, type TestLab } from '../../testkit/lab.ts';
import { freePort, startRedis, type TestRedis } from '../../testkit/redis.ts';
import { testConfig } from '../workers/helpers.ts';
import { runHook } from '../../testkit/hooks.ts';

/**
 * A fail-closed fence against a real pgpool whose detach cannot be confirmed: the decider decides
 * the detach of the failed primary, the executor tries it over PCP and gives up, and the hook,
 * still waiting, exits 3 with one line naming the cause. pgpool is never changed (every PCP call
 * fails), so the cases share one lab. The causes that need no pgpool (unknown, ambiguous and
 * invalid addresses, Redis down, no decision in time) are in fence.test.ts and the malformed corpus.
 */

const LAB_ID = labId(27);
const PRIMARY = `127.0.${LAB_ID}.11`;
const STANDBY = `127.0.${LAB_ID}.12`;
const prefix = '{pcpflow}';
const logger = createLogger({ level: 'silent', pretty: false });

describe('fail-closed fence, detach not confirmable in pgpool: exit 3, one line saying why', () => {
  let lab: TestLab;
  let redisServer: TestRedis;
  let redis: Redis;

  before(async () => {
    lab = await startLab({ id: LAB_ID });
    redisServer = await startRedis({ host: `127.0.${LAB_ID}.10` });
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  });
  after(async () => {
    redis?.disconnect();
    await redisServer?.stop();
    await lab?.stop();
  });

  /** A fresh decision state from pgpool's live view, then a fleet member whose PCP is broken by `patch`. */
  async function fenceWith(patch: (c: Config['clusters'][number]) => void): Promise<{ code: number | null; stderr: string }> {
    await redis.flushall();
    const good = testConfig(lab, (c) => (c.redis.url = redisServer.url)).config;
    const boot = await startFleetMember({ config: good, roles: ['decider'], logger, http: false });
    try {
      await pollUntil('the decider bootstrapped from pgpool', async () => ((await redis.exists(keys.snapshot(prefix, 'lab'))) ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
    } finally {
      await boot.stop();
    }
    const { config, path } = testConfig(lab, (c) => {
      c.redis.url = redisServer.url;
      const cluster = c.clusters[0];
      assert.ok(cluster);
      cluster.fence = { mode: 'fail-closed', timeoutMs: 60_000, detachHealthyPrimary: false };
      cluster.retry = { attempts: 2, backoffMs: 50, maxBackoffMs: 100, jitter: 0 };
      patch(cluster);
    });
    const member = await startFleetMember({ config, roles: ['decider', 'executor'], logger, http: false });
    try {
      return await runHook(['--config', path, 'efm', 'fence', STANDBY, PRIMARY]);
    } finally {
      await member.stop();
    }
  }

  it('pgpool unreachable (nothing listens on the PCP port): exit 3', async () => {
    const port = await freePort('127.0.0.1');
    // The right password for any host: what fails is the connection, not the lookup.
    const anyHost = join(lab.dir, 'any-host.pcppass');
    const line = readFileSync(lab.config.clusters[0]?.pcp.passfile ?? '', 'utf8').trim().split('\n')[0] ?? '';
    writeFileSync(anyHost, `${line.replace(/^[^:]*:[^:]*:/, '*:*:')}\n`, { mode: 0o600 });
    const run = await fenceWith((c) => {
      c.pcp.endpoints = [{ host: '127.0.0.1', port, label: 'closed port' }];
      c.pcp.passfile = anyHost;
    });
    assert.equal(run.code, 3, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /^pcpflow-hook: fence not confirmed \(action \S+ gave up: .*ECONNREFUSED.*\); fail-closed: exiting 3 so EFM does not promote$/m);
  });

  it('PCP authentication refused (a wrong password in the passfile): exit 3', async () => {
    const wrong = join(lab.dir, 'wrong.pcppass');
    const lines = readFileSync(lab.config.clusters[0]?.pcp.passfile ?? '', 'utf8').trim().split('\n');
    writeFileSync(wrong, `${lines.map((l) => l.replace(/:[^:]*$/, ':not-the-password')).join('\n')}\n`, { mode: 0o600 });
    const run = await fenceWith((c) => (c.pcp.passfile = wrong));
    assert.equal(run.code, 3, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /^pcpflow-hook: fence not confirmed \(action \S+ gave up: .*(auth|password).*\); fail-closed: exiting 3/im);
  });
});
