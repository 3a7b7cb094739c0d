import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Script } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import {
  bundleHook,
  bundleIdOf,
  codeCacheHeader,
  HOOK_BUNDLE,
  HOOK_CODE_CACHE,
  HOOK_MAIN_BUNDLE,
  HOOK_YAML_BUNDLE,
} from '../../scripts/build-hook.ts';
import { readEvents, runNode, sandbox, type Sandbox } from '../../testkit/hooks.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';

/** The V8 data after the cache file's header line. */
function v8Data(cache: Buffer): Buffer {
  return cache.subarray(cache.indexOf(10) + 1);
}

/**
 * Whether V8 takes `data` as the code cache of the main bundle, compiled as the loader compiles
 * it. In a fresh node each time: within one process V8 answers a second compile of the same
 * source from its in-memory cache and never looks at the data.
 */
function accepted(data: Buffer): boolean {
  const loader = readFileSync(HOOK_BUNDLE, 'utf8');
  const wrap = /new Script\(("[^"]*") \+ src \+ ("[^"]*")/.exec(loader);
  assert.ok(wrap?.[1] && wrap[2], 'the loader compiles `head + src + tail`');
  const dir = mkdtempSync(join(tmpdir(), 'pcpflow-hook-v8cache-'));
  try {
    writeFileSync(join(dir, 'data'), data);
    const check = `const { readFileSync } = require("node:fs");
const src = readFileSync(process.argv[1], "utf8");
const s = new (require("node:vm").Script)(${wrap[1]} + src + ${wrap[2]}, { filename: process.argv[1], cachedData: readFileSync(process.argv[2]) });
process.stdout.write(String(s.cachedDataRejected));`;
    const r = spawnSync(process.execPath, ['-e', check, HOOK_MAIN_BUNDLE, join(dir, 'data')], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout === 'false';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('bin/pcpflow-hook.cjs and its files', () => {
  it('are up to date with hooks/*.ts (rebuild: npx tsx scripts/build-hook.ts)', async () => {
    for (const f of await bundleHook()) {
      assert.ok(readFileSync(f.path, 'utf8') === f.text, `${f.path} is stale; run npx tsx scripts/build-hook.ts`);
    }
  });

  it('the main bundle is named by the hash of its code, and the code cache by that name', () => {
    const main = readFileSync(HOOK_MAIN_BUNDLE, 'utf8');
    const id = bundleIdOf(main);
    const code = main.slice(main.indexOf('\n') + 1);
    assert.equal(id, createHash('sha256').update(code).digest('hex').slice(0, 16));
    const cache = readFileSync(HOOK_CODE_CACHE);
    const header = cache.toString('latin1', 0, cache.indexOf(10));
    const [, cacheId, version, arch] = header.split(' ');
    assert.equal(cacheId, id, `${basename(HOOK_CODE_CACHE)} was made for another bundle; run npx tsx scripts/build-hook.ts`);
    // V8 takes a cache only from its own version; made by another Node, it is refused (and the
    // hook compiles as before), so only this Node can check that V8 takes it.
    if (version === process.version && arch === process.arch) {
      assert.equal(header, codeCacheHeader(id ?? ''));
      assert.ok(accepted(v8Data(cache)), 'V8 takes the committed code cache');
    }
  });

  it('the command is executable; the bundle carries neither zod classic nor ioredis', () => {
    accessSync(HOOK_BUNDLE, constants.X_OK);
    const text = readFileSync(HOOK_MAIN_BUNDLE, 'utf8');
    assert.ok(!text.includes('ioredis'));
    // .superRefine exists only on zod classic's schemas; zod/mini's core has no such method.
    assert.ok(!text.includes('superRefine'));
    assert.ok(text.length < 80_000, `bundle grew to ${text.length} bytes`);
  });
});

describe('the code cache changes the time, never the behaviour', () => {
  let redis: TestRedis;
  let box: Sandbox;
  let bin = '';
  before(async () => {
    redis = await startRedis();
    box = sandbox();
    box.writeConfig({ redisUrl: redis.url });
  });
  after(async () => {
    await redis.stop();
    box.cleanup();
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  /** A copy of bin/'s hook files whose cache file `cache` replaces (deleted when undefined). */
  function copyWith(cache: Buffer | undefined): string {
    if (bin) rmSync(bin, { recursive: true, force: true });
    bin = mkdtempSync(join(tmpdir(), 'pcpflow-hook-bin-'));
    for (const f of [HOOK_BUNDLE, HOOK_MAIN_BUNDLE, HOOK_YAML_BUNDLE, HOOK_CODE_CACHE]) copyFileSync(f, join(bin, basename(f)));
    const target = join(bin, basename(HOOK_CODE_CACHE));
    if (cache === undefined) unlinkSync(target);
    else writeFileSync(target, cache);
    return join(bin, basename(HOOK_BUNDLE));
  }

  const main = readFileSync(HOOK_MAIN_BUNDLE, 'utf8');
  const id = bundleIdOf(main) ?? '';
  const good = readFileSync(HOOK_CODE_CACHE);
  const header = (bundleId: string) => Buffer.from(`${codeCacheHeader(bundleId)}\n`, 'latin1');
  // A real V8 cache, of another script: V8 refuses it for this one (another source length).
  const other = new Script('(function () { return 42; })').createCachedData();
  const cases: [string, Buffer | undefined][] = [
    ['as built', good],
    ['missing', undefined],
    ['empty', Buffer.alloc(0)],
    ['no header line', v8Data(good)],
    ['made for another bundle', Buffer.concat([header('0123456789abcdef'), v8Data(good)])],
    ['made by another Node', Buffer.concat([Buffer.from(`${codeCacheHeader(id, 'v1.0.0')}\n`), v8Data(good)])],
    ['garbage after a right header', Buffer.concat([header(id), Buffer.alloc(4096, 0xa5)])],
    ['cut short after a right header', Buffer.concat([header(id), v8Data(good).subarray(0, 1000)])],
    ['another script’s V8 data under a right header', Buffer.concat([header(id), other])],
  ];

  it('V8 refuses the wrong data itself (so the loader falls back to compiling)', () => {
    assert.equal(accepted(Buffer.alloc(4096, 0xa5)), false);
    assert.equal(accepted(v8Data(good).subarray(0, 1000)), false);
    assert.equal(accepted(other), false);
  });

  for (const [what, cache] of cases) {
    it(`cache ${what}: the event is published, exit 0, nothing on stderr`, async () => {
      const hook = copyWith(cache);
      const cluster = `c1`;
      const before = (await readEvents(redis.url, cluster)).length;
      const r = await runNode(hook, ['efm', 'attach', '10.0.0.1', 's'], { PCPFLOW_CONFIG: box.configPath, TMPDIR: box.dir });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      const events = await readEvents(redis.url, cluster);
      assert.equal(events.length, before + 1);
      assert.equal(events.at(-1)?.type, 'efm.attach');
      // A wrong argument still gets the hook's own answer.
      const bad = await runNode(hook, ['efm', 'attach', '10.0.0.9', 's'], { PCPFLOW_CONFIG: box.configPath, TMPDIR: box.dir });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^pcpflow-hook: .*10\.0\.0\.9/);
    });
  }

  it('an attach loads neither node:crypto nor node:tls (their load is most of what the hook once cost over node)', async () => {
    const probe = join(box.dir, 'probe.cjs');
    writeFileSync(
      probe,
      `process.on('exit', () => require('node:fs').writeSync(2, 'LOADED ' + process.moduleLoadList.filter((m) => /^NativeModule (crypto|tls)$/.test(m)).join(',') + '\\n'));\n`,
    );
    const r = await runNode(HOOK_BUNDLE, ['efm', 'attach', '10.0.0.1', 's'], {
      PCPFLOW_CONFIG: box.configPath,
      TMPDIR: box.dir,
      NODE_OPTIONS: `--require ${probe}`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^LOADED \n$/);
    // The id is still a version 4 UUID.
    const last = (await readEvents(redis.url, 'c1')).at(-1);
    assert.match(String(last?.eventId), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
