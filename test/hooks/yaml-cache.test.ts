import assert from 'node:assert/strict';
import { chmodSync, chownSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';
import { readIntake, runHook, sandbox, type Sandbox } from '../../testkit/hooks.ts';

/**
 * The hook's cache of a parsed config and its validated copy (hooks/yaml-cache.ts), through the
 * real bundle: written once per user in a private directory, used only for the very text it was
 * made from, and never trusted when it or its directory could have been written by someone else.
 */

const UID = process.getuid?.() ?? -1;
let redis: TestRedis;
let box: Sandbox;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});
beforeEach(() => {
  box?.cleanup();
  box = sandbox();
  box.writeConfig({ redisUrl: redis.url });
});
after(() => box?.cleanup());

/** The hook with this sandbox's config, and its temporary directory (so its cache lives in the sandbox). */
const hook = (cluster: string) =>
  runHook(['--cluster', cluster, 'efm', 'attach', '10.0.0.1', 's'], { PCPFLOW_CONFIG: box.configPath, TMPDIR: box.dir });

const cacheDir = () => join(box.dir, `pcpflow-hook-cache-${UID}`);
function entryPath(): string {
  const names = readdirSync(cacheDir()).filter((n) => n.endsWith('.json'));
  assert.equal(names.length, 1, `one entry in ${cacheDir()}: ${names.join(', ')}`);
  return join(cacheDir(), names[0] ?? '');
}

interface CachedEntry {
  parsed: { clusters: { name: string }[] };
  validated?: { validator: string; config: { clusters: { name: string }[]; outbox: { dir: string }; redis: { keyPrefix: string } } };
}
const readEntry = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as CachedEntry;

/**
 * Rewrites the entry so its parse (and its validated copy, or only that one) names the cluster
 * `forged`: a hook that uses the entry knows that cluster.
 */
function forgeEntry(path: string, which: 'both' | 'validated' = 'both', change: (e: CachedEntry) => void = () => {}): void {
  const entry = readEntry(path);
  const targets = [...(which === 'both' ? [entry.parsed] : []), ...(entry.validated ? [entry.validated.config] : [])];
  assert.ok(targets.length > 0);
  for (const t of targets) {
    const first = t.clusters[0];
    assert.ok(first);
    first.name = 'forged';
  }
  change(entry);
  writeFileSync(path, JSON.stringify(entry), { mode: 0o600 });
}

test('the first run parses the YAML and leaves a private entry; a run with the same text answers from it', async () => {
  assert.equal((await hook('c1')).code, 0);
  assert.equal((await readIntake(redis.url, 'c1')).length, 1);
  const path = entryPath();
  assert.equal(statSync(cacheDir()).mode & 0o777, 0o700);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(path).uid, UID);

  forgeEntry(path);
  const r = await hook('forged');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await readIntake(redis.url, 'forged')).length, 1, 'the event went to the cluster only the entry names');
});

test('an edited config (same size, same second) is read afresh, never answered from the old entry', async () => {
  assert.equal((await hook('c1')).code, 0);
  forgeEntry(entryPath());
  writeFileSync(box.configPath, readFileSync(box.configPath, 'utf8').replace('name: c1', 'name: c2'));
  const r = await hook('c2');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await readIntake(redis.url, 'c2')).length, 1);
  assert.equal((await hook('forged')).code, 2, 'the entry made from the old text is not used');
  assert.equal((await hook('c2')).code, 0, 'and the new text has its own entry now');
});

test('an entry others could have written is ignored: group/other-writable, a symlink, in a shared directory, or owned by another user', async () => {
  assert.equal((await hook('c1')).code, 0);
  const path = entryPath();
  forgeEntry(path);
  assert.equal((await hook('forged')).code, 0, 'sanity: the forged entry works while private');

  const ignored = async (what: string) => {
    const r = await hook('forged');
    assert.equal(r.code, 2, `${what}: the entry must be ignored (${r.stderr})`);
    assert.match(r.stderr, /unknown cluster "forged"/);
  };

  forgeEntry(path);
  chmodSync(path, 0o666);
  await ignored('entry mode 0666');

  forgeEntry(path);
  chmodSync(cacheDir(), 0o777);
  await ignored('directory mode 0777');
  chmodSync(cacheDir(), 0o700);

  const elsewhere = join(box.dir, 'elsewhere.json');
  forgeEntry(path);
  writeFileSync(elsewhere, readFileSync(path));
  chmodSync(elsewhere, 0o600);
  unlinkSync(path);
  symlinkSync(elsewhere, path);
  await ignored('entry is a symlink');

  if (UID === 0) {
    unlinkSync(path);
    assert.equal((await hook('c1')).code, 0);
    forgeEntry(path);
    chownSync(path, 65534, 65534);
    await ignored('entry owned by nobody');
  }
});

test('a YAML value JSON cannot carry (.inf) is never cached', async () => {
  writeFileSync(box.configPath, `${readFileSync(box.configPath, 'utf8')}    retry: { jitter: .inf }\n`);
  const r = await hook('c1');
  assert.equal(r.code, 2, 'jitter .inf is out of range');
  assert.match(r.stderr, /jitter/);
  assert.deepEqual(
    readdirSync(box.dir).filter((n) => n.startsWith('pcpflow-hook-cache-')).flatMap((d) => readdirSync(join(box.dir, d))),
    [],
  );
});

test('the validated copy is used as it is, but only without env overrides and only by the validation that made it', async () => {
  assert.equal((await hook('c1')).code, 0);
  const path = entryPath();
  const made = readEntry(path).validated;
  assert.ok(made, 'a valid config is cached validated');
  assert.equal(made.config.redis.keyPrefix, '{pcpflow}', 'with the defaults the schema filled in');

  forgeEntry(path, 'validated');
  assert.equal((await hook('forged')).code, 0, 'the validated copy is taken without validating it again');

  // An env override changes the result: the parse is validated again, and what the override
  // carries is not written to the cache.
  const elsewhere = join(box.dir, 'outbox-from-env');
  const overridden = await runHook(['--cluster', 'forged', 'efm', 'attach', '10.0.0.1', 's'], {
    PCPFLOW_CONFIG: box.configPath,
    TMPDIR: box.dir,
    PCPFLOW_OUTBOX_DIR: elsewhere,
  });
  assert.equal(overridden.code, 2, overridden.stderr);
  assert.match(overridden.stderr, /unknown cluster "forged"/);
  assert.ok(!readFileSync(path, 'utf8').includes(elsewhere));

  // Made by another build's validation: validated again, and the entry made anew.
  forgeEntry(path, 'validated', (e) => {
    if (e.validated) e.validated.validator = 'another-build';
  });
  const r = await hook('forged');
  assert.equal(r.code, 2, r.stderr);
  assert.equal(readEntry(path).validated?.validator, made.validator);
  assert.equal(readEntry(path).validated?.config.clusters[0]?.name, 'c1');
  assert.equal((await hook('c1')).code, 0);
});

test('a JSON config is cached validated too', async () => {
  const json = join(box.dir, 'pcpflow.json');
  writeFileSync(
    json,
    JSON.stringify({
      redis: { url: redis.url },
      outbox: { dir: box.outbox },
      clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'u' }, backends: [{ address: '10.0.0.1' }] }],
    }),
  );
  const run = (cluster: string) =>
    runHook(['--cluster', cluster, 'efm', 'attach', '10.0.0.1', 's'], { PCPFLOW_CONFIG: json, TMPDIR: box.dir });
  assert.equal((await run('c1')).code, 0);
  forgeEntry(entryPath(), 'validated');
  assert.equal((await run('forged')).code, 0);
  writeFileSync(json, readFileSync(json, 'utf8').replace('"u"', '"u2"'));
  assert.equal((await run('forged')).code, 2, 'an edited JSON config is read afresh');
});
