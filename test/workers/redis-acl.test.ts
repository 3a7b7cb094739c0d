import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigSchema, type Config } from '../../contracts/config.ts';
import { pollUntil } from '../../lab/wait.ts';
import type { Logger } from '../../runtime/logger.ts';
import { startFleetMember, type Role } from '../../workers/fleet.ts';
import { passfileFor, tempDir } from '../pcp/helpers.ts';
import { startPcpServer, type PcpTestServer } from '../../testkit/pcp-server.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';
import { hookEvent, publish, records } from './helpers.ts';

/**
 * The README's Redis ACL line, run exactly as documented on a real Redis: a worker logged in as
 * that user decides and carries out an action without one refused command. And a worker whose
 * commands are refused (the line as it was, which removed INFO) backs off instead of spinning
 * (1.26 M error lines in 11 s before).
 */

const PASSWORD = 'acl-test-password';
const PASSWORD_ENV = 'PCPFLOW_TEST_ACL_REDIS_PASSWORD';
const prefix = '{pcpflow}';
const dir = tempDir();
const passfile = passfileFor(dir);
let redisServer: TestRedis;
let admin: Redis;
let pcp: PcpTestServer;

/** The ACL SETUSER line of README.md, with the password put in. */
function documentedAcl(): string[] {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const m = /`ACL SETUSER (pcpflow [^`]+)`/.exec(readme);
  assert.ok(m?.[1], 'README.md has an ACL SETUSER line');
  const words = m[1].split(/\s+/);
  assert.ok(words.includes('>…'), 'the line has a >… password placeholder');
  return words.map((w) => (w === '>…' ? `>${PASSWORD}` : w));
}

before(async () => {
  process.env[PASSWORD_ENV] = PASSWORD;
  redisServer = await startRedis();
  admin = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  pcp = await startPcpServer({ backends: 3, effectDelayMs: 5 });
});

after(async () => {
  admin?.disconnect();
  await pcp?.stop();
  await redisServer?.stop();
  dir.remove();
  delete process.env[PASSWORD_ENV];
});

function configAs(user: string): Config {
  return ConfigSchema.parse({
    redis: { url: redisServer.url, username: user, password: { env: PASSWORD_ENV } },
    log: { level: 'warn' },
    workers: { concurrency: 2, lockDurationMs: 2_000, stalledIntervalMs: 1_000 },
    clusters: [
      {
        name: 'acl',
        pcp: { endpoints: [{ host: pcp.host, port: pcp.port }], user: 'pcpadmin', passfile },
        timeouts: { connectMs: 1_000, readMs: 1_000, verifyMs: 3_000, pollIntervalMs: 10 },
        backends: [0, 1, 2].map((i) => ({ address: '127.0.0.1', port: 15432 + i })),
        reconcileIntervalMs: 60_000,
      },
    ],
  });
}

/** A logger whose JSON lines land in `lines`. */
function capture(): { lines: Record<string, unknown>[]; logger: Logger } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'warn' }, sink) as Logger };
}

async function member(user: string, roles: Role[], logger: Logger) {
  return startFleetMember({ config: configAs(user), roles, logger, http: false });
}

test('a worker logged in as exactly the documented ACL user decides and carries out a detach, with no command refused', { timeout: 60_000 }, async () => {
  assert.equal(await admin.call('ACL', 'SETUSER', ...documentedAcl()), 'OK');
  await admin.call('ACL', 'LOG', 'RESET');
  const { lines, logger } = capture();
  const m = await member('pcpflow', ['decider', 'executor', 'reconciler'], logger);
  try {
    await publish(admin, prefix, hookEvent(['efm', 'detach', '127.0.0.1:15433', 's'], 'acl'));
    await pollUntil('pgpool shows the standby down', async () => (pcp.backends[1]?.status === 3 ? true : undefined), { timeoutMs: 30_000 }).catch(async (e: unknown) => {
      throw new Error(`${String(e)}; log: ${JSON.stringify(lines).slice(0, 1500)}; audit: ${JSON.stringify(await records(admin, prefix, 'acl')).slice(0, 1500)}`);
    });
    await pollUntil(
      'the confirmed detach in the audit trail',
      async () => (await records(admin, prefix, 'acl')).find((r) => r.kind === 'action-attempt' && r.outcome === 'changed'),
      { timeoutMs: 30_000 },
    );
  } finally {
    await m.stop();
  }
  const refused = (await admin.call('ACL', 'LOG')) as unknown[];
  assert.deepEqual(refused, [], `Redis refused commands of the documented user: ${JSON.stringify(refused).slice(0, 800)}`);
  assert.deepEqual(lines.filter((l) => /NOPERM|refused/.test(JSON.stringify(l))), []);
});

test('a worker whose Redis commands are refused pauses, doubling the pause, instead of spinning', { timeout: 60_000 }, async () => {
  // The README line as it was: -@dangerous after +info takes INFO away again, and BullMQ needs it.
  const old = documentedAcl().filter((w) => w !== '+info');
  old.splice(old.indexOf('-@dangerous'), 0, '+info');
  assert.equal(await admin.call('ACL', 'SETUSER', 'refused', 'reset', ...old.slice(1)), 'OK');
  const { lines, logger } = capture();
  const m = await member('refused', ['executor'], logger);
  try {
    const pauses = await pollUntil(
      'four pauses of the action worker',
      async () => {
        const p = lines.filter((l) => typeof l.pauseMs === 'number');
        return p.length >= 4 ? p : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(pauses.slice(0, 4).map((p) => p.pauseMs), [500, 1000, 2000, 4000]);
    assert.match(String(pauses[0]?.msg), /Redis refused a command of the action worker \(NOPERM\); pausing it for 500 ms\. Check the Redis user's ACL/);
  } finally {
    await m.stop();
  }
  // Before: every refused command was one more error line, over a million in seconds.
  const errors = lines.filter((l) => l.level === 50);
  assert.ok(errors.length <= 8, `${errors.length} error lines while refused: ${JSON.stringify(errors.slice(0, 3))}`);
});

test('a decider whose commits are refused pauses the cluster, doubling the pause, instead of retrying every wake-up', { timeout: 60_000 }, async () => {
  // No scripting: every decider commit (one Lua script) is refused.
  const noScripts = documentedAcl().filter((w) => w !== '+@scripting');
  assert.equal(await admin.call('ACL', 'SETUSER', 'noscripts', 'reset', ...noScripts.slice(1)), 'OK');
  // Something to decide, whether or not the cluster was bootstrapped by an earlier test.
  await publish(admin, prefix, hookEvent(['efm', 'attach', '127.0.0.1:15433', 's'], 'acl'));
  const { lines, logger } = capture();
  const m = await member('noscripts', ['decider'], logger);
  try {
    const pauses = await pollUntil(
      'three pauses of the decider',
      async () => {
        const p = lines.filter((l) => typeof l.pauseMs === 'number');
        return p.length >= 3 ? p : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify(lines.slice(0, 5)).slice(0, 2000)}`);
    });
    assert.deepEqual(pauses.slice(0, 3).map((p) => p.pauseMs), [500, 1000, 2000]);
    assert.match(String(pauses[0]?.msg), /Redis refused a command of the decider; cluster acl waits 500 ms/);
  } finally {
    await m.stop();
  }
  const errors = lines.filter((l) => l.level === 50);
  assert.ok(errors.length <= 6, `${errors.length} error lines while refused`);
});
