import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listPending } from '../../hooks/outbox.ts';
import { scanOutbox } from '../../hooks/outbox-scan.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';
import { collect, HOOK, readEvents, sandbox, type HookRun, type Sandbox } from '../../testkit/hooks.ts';

/**
 * EFM's hooks run as the efm user, pgpool's follow-primary as postgres: two real OS users share
 * one outbox. This test creates two users and a shared group (removed afterwards), makes the
 * outbox a setgid 2770 directory of that group as the README says, and runs the real hook as each
 * user with a umask of 027 (the common default that once turned the hook's 2770 into 2750 and
 * lost the second user's events) against Redis up, down and frozen (SIGSTOP).
 */

const IS_ROOT = process.getuid?.() === 0;
const tag = `${process.pid % 100000}`;
const USER_A = `pfa${tag}`;
const USER_B = `pfb${tag}`;
const GROUP = `pfg${tag}`;

const uidOf = (user: string) => Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
const gidOf = (group: string) => Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);

/** A /tmp of the test's own (sticky, world-writable), so the users' hook caches go with the sandbox. */
let usersTmp = '';

/** The real hook as `user`, through runuser (which also sets the user's supplementary groups). */
function hookAs(user: string, args: readonly string[]): Promise<HookRun> {
  const child = spawn(
    'runuser',
    ['-u', user, '--', 'sh', '-c', 'umask 027 && exec "$0" "$@"', process.execPath, HOOK, ...args],
    { env: { PATH: process.env.PATH, TMPDIR: usersTmp }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return collect(child);
}

describe('hooks run as two OS users and lose nothing', { skip: IS_ROOT ? false : 'needs root to create users' }, () => {
  let redis: TestRedis;
  let box: Sandbox;
  const sent: string[] = [];
  const notify = async (user: string, subject: string) => {
    const run = await hookAs(user, ['--config', box.configPath, 'efm', 'notification', subject, 'body']);
    sent.push(subject);
    return run;
  };
  const delivered = async () => (await readEvents(redis.url, 'c1')).map((e) => String(e.subject));

  before(async () => {
    execFileSync('groupadd', [GROUP]);
    execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', '--groups', GROUP, USER_A]);
    execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', '--groups', GROUP, USER_B]);
    redis = await startRedis();
    box = sandbox();
    chmodSync(box.dir, 0o755);
    usersTmp = join(box.dir, 'tmp');
    mkdirSync(usersTmp);
    chmodSync(usersTmp, 0o1777);
    box.writeConfig({ redisUrl: redis.url, publishTimeoutMs: 500 });
    chmodSync(box.configPath, 0o644);
    // The operator's one step (README, Deployment notes): a setgid directory of the shared group.
    mkdirSync(box.outbox);
    chownSync(box.outbox, 0, gidOf(GROUP));
    chmodSync(box.outbox, 0o2770);
  });
  after(async () => {
    await redis?.stop();
    box?.cleanup();
    for (const u of [USER_A, USER_B]) execFileSync('userdel', [u], { stdio: 'ignore' });
    execFileSync('groupdel', [GROUP], { stdio: 'ignore' });
  });

  it('Redis down: both users spool (exit 0); the cluster directory is 2770 despite umask 027', async () => {
    await redis.stop();
    for (const [user, subject] of [
      [USER_A, 'down-a1'],
      [USER_B, 'down-b1'],
      [USER_A, 'down-a2'],
    ] as const) {
      const run = await notify(user, subject);
      assert.equal(run.code, 0, `${user}: ${run.stderr}`);
      assert.match(run.stderr, /spooled to /);
    }
    const dir = join(box.outbox, 'c1');
    assert.equal(statSync(dir).mode & 0o7777, 0o2770);
    const files = listPending(box.outbox, 'c1');
    assert.equal(files.length, 3);
    const owners = new Set(files.map((f) => statSync(f.path).uid));
    assert.deepEqual(owners, new Set([uidOf(USER_A), uidOf(USER_B)]));
    for (const f of files) assert.equal(statSync(f.path).mode & 0o777, 0o660, f.name);
  });

  it('Redis up: user B drains user A\'s spool and its own, in order, then publishes its own event', async () => {
    await redis.start();
    const run = await notify(USER_B, 'up-b');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.deepEqual(await delivered(), ['down-a1', 'down-b1', 'down-a2', 'up-b']);
    assert.deepEqual(listPending(box.outbox, 'c1'), []);
  });

  it('Redis frozen (SIGSTOP): both users spool at the publish deadline; once it thaws, all is delivered once, in order', async () => {
    const pid = redis.pid();
    assert.ok(pid);
    process.kill(pid, 'SIGSTOP');
    try {
      for (const [user, subject] of [
        [USER_A, 'frozen-a'],
        [USER_B, 'frozen-b'],
      ] as const) {
        const run = await notify(user, subject);
        assert.equal(run.code, 0, `${user}: ${run.stderr}`);
        assert.match(run.stderr, /Redis unavailable .*spooled to /);
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const run = await notify(USER_A, 'thawed-a');
    assert.equal(run.code, 0, run.stderr);
    const all = await delivered();
    assert.deepEqual(all.slice(-3), ['frozen-a', 'frozen-b', 'thawed-a']);
    assert.equal(new Set(all).size, all.length, 'nothing twice');
  });

  it("another user's 0600 entry (written before modes were explicit) is quarantined with a reason; B's own event is published", async () => {
    const dir = join(box.outbox, 'c1');
    const legacy = join(dir, '0000000000000001.legacy-0600-entry.event');
    const fd = openSync(legacy, 'wx', 0o600);
    writeSync(fd, '{"eventId":"legacy-0600-entry"}\n');
    closeSync(fd);
    chownSync(legacy, uidOf(USER_A), gidOf(GROUP));
    chmodSync(legacy, 0o600);
    const run = await notify(USER_B, 'after-legacy');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /legacy-0600-entry\.event not readable by uid \d+ \(owner uid \d+, gid \d+, mode 600\).*set aside in quarantine\//);
    assert.equal((await delivered()).at(-1), 'after-legacy');
    const q = scanOutbox(box.outbox, 'c1').quarantined;
    assert.deepEqual(q.map((e) => e.name), ['0000000000000001.legacy-0600-entry.event']);
  });

  it('a user that cannot even list the outbox still publishes its own event while Redis is up', async () => {
    const dir = join(box.outbox, 'c1');
    chmodSync(dir, 0o2700); // as if the group were wrong: B can no longer read it
    try {
      const run = await notify(USER_B, 'locked-out');
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /warning: outbox: cannot list the outbox .* \(EACCES\); give this user the outbox group/);
      assert.equal((await delivered()).at(-1), 'locked-out');
    } finally {
      chmodSync(dir, 0o2770);
    }
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.event')), []);
  });
});
