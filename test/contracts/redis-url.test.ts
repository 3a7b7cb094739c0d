import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigSchema } from '../../contracts/config.ts';
import { runCli, runHook, sandbox } from '../../testkit/hooks.ts';

/**
 * A malformed redis.url used to pass validation and then crash the worker, status and audit with
 * a stack trace, while the hook spooled every event for ever. Now config check, every command and
 * the hook refuse it with the same reason (contracts/redis-url.ts is the one rule).
 */

const MALFORMED: [url: string, reason: RegExp][] = [
  ['redis://[::1', /not a valid URL/],
  ['redis://:%zz@127.0.0.1:6379', /password has a broken %-escape/],
  ['redis://127.0.0.1:6379/abc', /not a database number/],
  ['redis://127.0.0.1:0', /port 0 is not 1-65535/],
  ['redis://', /has no host/],
  ['redis://127.0.0.1:6379?family=6', /query or fragment/],
];

const box = sandbox();
after(() => box.cleanup());

function configFile(url: string, i: number): string {
  const file = join(box.dir, `bad-url-${i}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      redis: { url },
      outbox: { dir: box.outbox },
      clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'pcp' }, backends: [{ address: '10.0.0.1' }] }],
    }),
  );
  return file;
}

test('the config schema refuses each malformed redis.url with its reason', () => {
  for (const [url, reason] of MALFORMED) {
    const r = ConfigSchema.safeParse({ redis: { url }, clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'p' }, backends: [{ address: '10.0.0.1' }] }] });
    assert.equal(r.success, false, url);
    assert.match(r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n') ?? '', new RegExp(`redis\\.url: .*${reason.source}`), url);
  }
  assert.ok(ConfigSchema.safeParse({ redis: { url: 'rediss://user:p%40ss@[::1]:6380/2' }, clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'p' }, backends: [{ address: '10.0.0.1' }] }] }).success);
});

test('config check, status, audit and the hook refuse a malformed redis.url: exit 2, reason named, no stack, nothing spooled', async () => {
  for (const [i, [url, reason]] of MALFORMED.entries()) {
    const file = configFile(url, i);
    for (const args of [['config', 'check'], ['status'], ['audit', '--since', '1h']]) {
      const r = await runCli([...args, '--config', file]);
      assert.equal(r.code, 2, `${args.join(' ')} ${url}: ${r.stderr}`);
      assert.match(r.stderr, /redis\.url: /, `${args.join(' ')} ${url}`);
      assert.match(r.stderr, reason);
      assert.ok(!/\n\s+at /.test(r.stderr), `a stack trace: ${r.stderr}`);
    }
    const hook = await runHook(['--config', file, 'efm', 'detach', '10.0.0.1', 's']);
    assert.equal(hook.code, 2, `hook ${url}: ${hook.stderr}`);
    assert.match(hook.stderr, reason);
  }
  let spooled: string[] = [];
  try {
    spooled = readdirSync(box.outbox);
  } catch {
    /* no outbox dir at all: nothing spooled */
  }
  assert.deepEqual(spooled, []);
});
