import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listPending } from '../../hooks/outbox.ts';
import { scanOutbox, type OutboxScan } from '../../hooks/outbox-scan.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';
import { collect, HOOK, readEvents, runCli, runHook, sandbox, scratchTmp, type HookRun, type Sandbox } from '../../testkit/hooks.ts';

/**
 * The outbox is a queue no single entry can block (issue 12), with modes no umask can narrow
 * (issue 11). Each case here failed before its fix: a directory entry stopped all delivery
 * ("Redis unavailable (EISDIR)"), `outbox flush` died with a stack trace on it, a truncated entry
 * was renamed where nobody looked, temp files of a crashed hook stayed forever, a umask of 077 made
 * the cluster directory 2700, and an outbox under /proc hung the hook.
 */

/** Sequence 0 sorts before every entry a hook writes (they start at 1). */
const SEQ0 = '0'.repeat(16);
const notification = (box: Sandbox, subject: string) =>
  runHook(['--config', box.configPath, 'efm', 'notification', subject, 'body']);

/** Spawns the hook under `sh -c 'umask …'`: the only way to give a child another umask. Fixed argv, no input in the script. */
function runHookWithUmask(umask: string, args: readonly string[]): Promise<HookRun> {
  const child = spawn('sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, HOOK, ...args], {
    env: { PATH: process.env.PATH, TMPDIR: scratchTmp() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

describe('outbox: one bad entry is set aside with a reason, never a wall', () => {
  let redis: TestRedis;
  let box: Sandbox;
  const cdir = () => join(box.outbox, 'c1');
  before(async () => {
    redis = await startRedis();
    box = sandbox();
    box.writeConfig({ redisUrl: redis.url, publishTimeoutMs: 800 });
  });
  after(async () => {
    await redis.stop();
    box.cleanup();
  });

  it('a directory, a truncated write and an empty file are quarantined; the events behind them and the hook\'s own are delivered in order', async () => {
    await redis.stop();
    assert.equal((await notification(box, 'first')).code, 0);
    await redis.start();
    const [first] = listPending(box.outbox, 'c1');
    assert.ok(first);
    // Entries that sort before the real one: a directory, a write cut short, an empty file.
    mkdirSync(join(cdir(), `${SEQ0}.aaaaaaaa-dir.event`));
    writeFileSync(join(cdir(), `${SEQ0}.bbbbbbbb-cut.event`), '{"eventId":"bbbbbbbb-cut","type":"efm.no');
    writeFileSync(join(cdir(), `${SEQ0}.cccccccc-empty.event`), '');
    const run = await notification(box, 'second');
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /Redis unavailable/);
    assert.match(run.stderr, /aaaaaaaa-dir\.event is a directory, not an event file: set aside in quarantine\//);
    assert.match(run.stderr, /bbbbbbbb-cut\.event is not a complete JSON event/);
    const subjects = (await readEvents(redis.url, 'c1')).map((e) => e.subject);
    assert.deepEqual(subjects, ['first', 'second']);
    assert.deepEqual(listPending(box.outbox, 'c1'), []);
    const scan = scanOutbox(box.outbox, 'c1');
    assert.deepEqual(
      scan.quarantined.map((q) => q.name),
      [`${SEQ0}.aaaaaaaa-dir.event`, `${SEQ0}.bbbbbbbb-cut.event`, `${SEQ0}.cccccccc-empty.event`],
    );
    assert.match(scan.quarantined.find((q) => q.name.includes('empty'))?.reason ?? '', /is empty \(a write cut short\)/);
  });

  it('`pcpflow outbox flush` steps over a directory entry instead of dying with a stack trace', async () => {
    await redis.stop();
    assert.equal((await notification(box, 'third')).code, 0);
    mkdirSync(join(cdir(), `${SEQ0}.dddddddd-dir.event`));
    await redis.start();
    const flush = await runCli(['outbox', 'flush', '--config', box.configPath]);
    assert.equal(flush.code, 0, flush.stderr);
    assert.doesNotMatch(flush.stderr, /\n\s+at /, 'no stack trace');
    assert.match(flush.stdout, /c1: delivered 1, already delivered 0, quarantined 1/);
    assert.match(flush.stderr, /dddddddd-dir\.event is a directory/);
    // This Redis keeps nothing across a restart: only what was delivered since is there.
    assert.deepEqual((await readEvents(redis.url, 'c1')).map((e) => e.subject), ['third']);
  });

  it('`pcpflow outbox status [--json]` says what is spooled, quarantined (and why) and how old', async () => {
    await redis.stop();
    assert.equal((await notification(box, 'waiting')).code, 0);
    const text = await runCli(['outbox', 'status', '--config', box.configPath]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^c1: 1 spooled \(oldest \d+s\), 4 quarantined, 0 temp file\(s\) in /m);
    assert.match(text.stdout, /quarantined 0+\.dddddddd-dir\.event \(\d+s ago\): is a directory, not an event file/);
    const json = await runCli(['outbox', 'status', '--json', '--config', box.configPath]);
    assert.equal(json.code, 0, json.stderr);
    const [scan] = JSON.parse(json.stdout) as OutboxScan[];
    assert.equal(scan?.cluster, 'c1');
    assert.equal(scan?.pending.length, 1);
    assert.ok(typeof scan?.pending[0]?.ageMs === 'number');
    assert.equal(scan?.quarantined.length, 4);
    assert.ok(scan?.quarantined.every((q) => q.reason.length > 0 && q.reason !== 'no reason recorded'));
    await redis.start();
    assert.equal((await runCli(['outbox', 'flush', '--config', box.configPath])).code, 0);
  });

  it('temp files of a hook that died mid-spool are removed by the next delivery; a live one is kept', async () => {
    const exited = spawnSync(process.execPath, ['-e', '']);
    const deadPid = exited.pid;
    assert.ok(deadPid);
    const dead = join(cdir(), `.tmp.${deadPid}.eeeeeeee-dead`);
    const old = join(cdir(), `.tmp.${process.pid}.ffffffff-old`);
    const live = join(cdir(), `.tmp.${process.pid}.gggggggg-live`);
    for (const f of [dead, old, live]) writeFileSync(f, '{"eventId":');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(old, hourAgo, hourAgo);
    assert.equal(scanOutbox(box.outbox, 'c1').tmp.length, 3);
    const run = await notification(box, 'after-crash');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(existsSync(dead), false, 'the dead hook\'s temp file is gone');
    assert.equal(existsSync(old), false, 'a temp file older than any hook run is gone');
    assert.equal(existsSync(live), true, 'a fresh temp file of a live process is kept');
  });
});

describe('outbox modes are explicit, whatever the umask', () => {
  let box: Sandbox;
  before(() => {
    box = sandbox();
    box.writeConfig({ redisUrl: 'redis://127.0.0.1:1', publishTimeoutMs: 300 });
  });
  after(() => box.cleanup());

  it('under umask 077 the hook still creates the cluster directory 2770 and the event file 0660', async () => {
    const run = await runHookWithUmask('077', ['--config', box.configPath, 'efm', 'notification', 's', 'b']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(statSync(box.outbox).mode & 0o7777, 0o2770, 'outbox.dir');
    assert.equal(statSync(join(box.outbox, 'c1')).mode & 0o7777, 0o2770, 'the cluster directory');
    const [file] = listPending(box.outbox, 'c1');
    assert.ok(file);
    assert.equal(statSync(file.path).mode & 0o777, 0o660, 'the event file');
  });
});

describe('an outbox under /proc fails fast instead of hanging the hook', () => {
  let box: Sandbox;
  let redis: TestRedis;
  before(async () => {
    box = sandbox();
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
    box.cleanup();
  });

  it('Redis down: exit 1 with the event on stderr (EFM keeps it in its notification)', async () => {
    box.writeConfig({ redisUrl: 'redis://127.0.0.1:1', publishTimeoutMs: 300 });
    const run = await runHook(['--config', box.configPath, 'efm', 'notification', 's', 'b'], { PCPFLOW_OUTBOX_DIR: '/proc/pcpflow-outbox' });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /outbox \/proc\/pcpflow-outbox\/c1: cannot spool event/);
    assert.match(run.stderr, /event NOT delivered: \{"eventId"/);
  });

  it('Redis up: the event is published; nothing needs the outbox', async () => {
    box.writeConfig({ redisUrl: redis.url, publishTimeoutMs: 800 });
    const run = await runHook(['--config', box.configPath, 'efm', 'notification', 'proc', 'b'], { PCPFLOW_OUTBOX_DIR: '/proc/pcpflow-outbox' });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await readEvents(redis.url, 'c1')).map((e) => e.subject), ['proc']);
    assert.equal(readdirSync('/proc').includes('pcpflow-outbox'), false);
    assert.ok(readFileSync('/proc/self/status', 'utf8').length > 0);
  });
});

describe('nothing the hook reads can hang it', () => {
  let box: Sandbox;
  before(() => {
    box = sandbox();
  });
  after(() => box.cleanup());

  it('a FIFO as the Redis password file or TLS CA: refused at once, the event spooled', async () => {
    const fifo = join(box.dir, 'secret.fifo');
    spawnSync('mkfifo', [fifo]);
    for (const redis of [
      { url: 'redis://127.0.0.1:1', password: { file: fifo } },
      { url: 'rediss://127.0.0.1:1', tls: { caFile: fifo } },
      { url: 'redis://127.0.0.1:1', password: { file: '/dev/zero' } },
    ]) {
      const config = join(box.dir, 'fifo-secret.json');
      writeFileSync(
        config,
        JSON.stringify({
          redis: { ...redis, publishTimeoutMs: 300 },
          outbox: { dir: box.outbox },
          clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'u' }, backends: [{ address: '10.0.0.1' }] }],
        }),
      );
      const run = await runHook(['--config', config, 'efm', 'detach', '10.0.0.1', 's']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /Redis unavailable \(.*(a FIFO|a character device), not a regular file\); event \S+ spooled to/);
    }
  });
});
