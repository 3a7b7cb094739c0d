import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { applyConfigEnv, ConfigSchema } from '../../contracts/config.ts';
import { INTAKE_EVENT_FIELD, INTAKE_REJECTION_FIELD, keys } from '../../contracts/keys.ts';
import { loadHookConfig } from '../../hooks/config.ts';
import * as wire from '../../hooks/wire.ts';
import { parse as hookYaml } from '../../hooks/yaml-entry.ts';
import { ROOT } from '../../testkit/hooks.ts';

/** The hook repeats a few contract details to stay fast; these tests keep the copies honest. */
describe('hook copies of contract details', () => {
  it('key names and stream fields equal contracts/keys.ts', () => {
    for (const [p, c, id] of [
      ['{pcpflow}', 'c1', 'e-1'],
      ['{x.y}', 'a_b-c', 'abcdefgh'],
    ] as const) {
      assert.equal(wire.hookKeys.intake(p, c), keys.intake(p, c));
      assert.equal(wire.hookKeys.eventResult(p, c, id), keys.eventResult(p, c, id));
      assert.equal(wire.hookKeys.actionResult(p, c, id), keys.actionResult(p, c, id));
      assert.equal(wire.hookKeys.delivered(p, c, id), keys.delivered(p, c, id));
    }
    assert.equal(wire.INTAKE_EVENT_FIELD, INTAKE_EVENT_FIELD);
    assert.equal(wire.INTAKE_REJECTION_FIELD, INTAKE_REJECTION_FIELD);
  });

  const minimal = {
    clusters: [
      {
        name: 'c1',
        pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'u' },
        backends: [{ address: '10.0.0.1' }],
      },
    ],
  };
  const full = {
    redis: {
      url: 'rediss://r:6380/2',
      keyPrefix: '{pf}',
      username: 'hook',
      password: { env: 'RPW' },
      tls: { caFile: '/ca' },
      publishTimeoutMs: 300,
    },
    outbox: { dir: '/srv/outbox' },
    clusters: [{ ...minimal.clusters[0], fence: { mode: 'fail-closed', timeoutMs: 5000 } }],
  };

  it("the hook validates with the worker's schema itself, env overrides included", async () => {
    const env = { PCPFLOW_REDIS_URL: 'redis://other:1', PCPFLOW_OUTBOX_DIR: '/o' };
    const dir = mkdtempSync(join(tmpdir(), 'pcpflow-wire-'));
    // The hook caches a parsed config under os.tmpdir(): keep that cache inside this test's dir.
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      for (const [i, raw] of [minimal, full].entries()) {
        const path = join(dir, `c${i}.json`);
        writeFileSync(path, JSON.stringify(raw));
        const parsed = (await loadHookConfig(path, env)).config;
        assert.deepEqual(parsed, ConfigSchema.parse(applyConfigEnv(raw, env)));
        assert.equal(parsed.redis.url, 'redis://other:1');
        assert.deepEqual(parsed.outbox, { dir: '/o' });
      }
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const ACCEPTED = new Set(['the base', 'a valid timeouts block', 'http with token', 'http with a metrics token', 'a valid stream check']);
  it('the one config schema accepts and rejects what it should (one verdict per case)', () => {
    const base = () => ({
      redis: { url: 'redis://127.0.0.1:6379' },
      outbox: { dir: '/var/spool/pcpflow' },
      clusters: [
        {
          name: 'c1',
          pcp: { endpoints: [{ host: '127.0.0.1', port: 9898 }], user: 'pcpadmin' },
          backends: [{ address: '10.0.0.1' }, { address: '10.0.0.2', port: 5433, nodeId: 1 }],
        },
      ],
    });
    type Raw = ReturnType<typeof base> & Record<string, unknown>;
    const c0 = (r: Raw) => r.clusters[0] as Record<string, unknown> & { pcp: Record<string, unknown>; backends: Record<string, unknown>[] };
    const cases: [string, (r: Raw) => void][] = [
      ['the base', () => undefined],
      ['an unknown top-level key', (r) => (r.redsi = {})],
      ['an unknown key in a cluster', (r) => (c0(r).fense = {})],
      ['an unknown key in pcp', (r) => (c0(r).pcp.pasfile = '/x')],
      ['an unknown key in a backend', (r) => (c0(r).backends[0]!.adress = 'x')],
      ['an unknown key in redis', (r) => ((r.redis as Record<string, unknown>).urll = 'x')],
      ['an unknown key in timeouts', (r) => (c0(r).timeouts = { readMS: 5 })],
      ['a negative PCP timeout', (r) => (c0(r).timeouts = { readMs: -1 })],
      ['a valid timeouts block', (r) => (c0(r).timeouts = { readMs: 900, connectMs: 100 })],
      ['no backends', (r) => (c0(r).backends = [])],
      ['a duplicate backend', (r) => c0(r).backends.push({ address: '10.0.0.1', port: 5432 })],
      ['a duplicate cluster', (r) => r.clusters.push(structuredClone(r.clusters[0]!))],
      ['a backend host that is not a host', (r) => (c0(r).backends[0]!.address = '300.1.1.1')],
      ['a nodeId out of range', (r) => (c0(r).backends[0]!.nodeId = 200)],
      ['a PCP endpoint label too long', (r) => ((c0(r).pcp.endpoints as Record<string, unknown>[])[0]!.label = 'x'.repeat(65))],
      ['an unknown PCP driver', (r) => (c0(r).pcp.driver = 'shell')],
      ['retry jitter above 1', (r) => (c0(r).retry = { jitter: 2 })],
      ['an empty notification command', (r) => (c0(r).notificationCommand = [])],
      ['an unknown fence mode', (r) => (c0(r).fence = { mode: 'fail-maybe' })],
      ['an unknown fence key', (r) => (c0(r).fence = { mode: 'fail-closed', timeout: 5 })],
      ['a negative audit streamMaxLen', (r) => (c0(r).audit = { streamMaxLen: -1 })],
      ['an unknown http key', (r) => (r.http = { porrt: 1 })],
      ['an http port as text', (r) => (r.http = { port: '9464' })],
      ['http with token', (r) => (r.http = { host: '127.0.0.1', port: 0, token: { env: 'TOKEN' } })],
      ['http with a metrics token', (r) => (r.http = { token: { env: 'TOKEN' }, metricsToken: { file: '/etc/pcpflow/metrics.token' } })],
      ['a malformed redis url', (r) => ((r.redis as Record<string, unknown>).url = 'redis://[::1')],
      ['a redis url with a path that is not a db number', (r) => ((r.redis as Record<string, unknown>).url = 'redis://127.0.0.1:6379/x')],
      ['an unknown log level', (r) => (r.log = { level: 'loud' })],
      ['zero worker concurrency', (r) => (r.workers = { concurrency: 0 })],
      ['an unknown outbox key', (r) => (r.outbox = { dir: '/x', mode: 1 } as never)],
      ['a sentinel host that is not a host', (r) => ((r.redis as Record<string, unknown>).sentinel = { name: 'm', sentinels: [{ host: 'a b', port: 1 }] })],
      ['a sentinel with an extra key', (r) => ((r.redis as Record<string, unknown>).sentinel = { name: 'm', sentinels: [{ host: 'h', port: 1, db: 0 }] })],
      ['a reconcile interval of 0', (r) => (c0(r).reconcileIntervalMs = 0)],
      ['clusters missing', (r) => delete (r as Partial<Raw>).clusters],
      ['a valid stream check', (r) => (c0(r).streamCheck = { source: 'postgres', postgres: { user: 'pcpflow', password: { env: 'PGPW' } } })],
      ['stream check source postgres without postgres', (r) => (c0(r).streamCheck = { source: 'postgres' })],
      ['an unknown stream check key', (r) => (c0(r).streamCheck = { source: 'auto', deadline: 5 })],
      ['an unknown stream check source', (r) => (c0(r).streamCheck = { source: 'guess' })],
      ['an unknown stream check ssl mode', (r) => (c0(r).streamCheck = { postgres: { user: 'u', ssl: 'verify-full' } })],
    ];
    for (const [what, mutate] of cases) {
      const raw = base() as Raw;
      mutate(raw);
      for (const env of [{}, { PCPFLOW_HTTP_PORT: 'x' }]) {
        const expected = ACCEPTED.has(what) && env.PCPFLOW_HTTP_PORT === undefined;
        const verdict = ConfigSchema.safeParse(applyConfigEnv(raw, env)).success;
        assert.equal(verdict, expected, `${what} (env ${JSON.stringify(env)}): the schema ${verdict ? 'accepts' : 'rejects'} it`);
      }
    }
  });

  it("the hook's YAML parser reads config files as the CLI's does", () => {
    const samples = [
      'redis:\n  url: redis://127.0.0.1:6379\n  publishTimeoutMs: 800\noutbox: { dir: /var/spool/pcpflow }\nclusters:\n  - name: c1\n    fence: { mode: fail-closed, timeoutMs: 10000 }\n',
      "clusters:\n  - name: '007'\n    enabled: yes\n    when: 2001-12-14\n    n: 0x10\n    f: .5\n    nothing: ~\n",
    ];
    const found = [ROOT, join(ROOT, 'deploy')].flatMap((d) =>
      readdirSync(d)
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => readFileSync(join(d, f), 'utf8')),
    );
    assert.ok(found.length > 0, 'no sample config found');
    for (const text of [...samples, ...found]) assert.deepEqual(hookYaml(text), parseYaml(text));
  });
});
