import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { createAuthGate, createMetricsGate, sameSecret, SESSION_TTL_S } from '../../console/auth.ts';
import { TimeRangeError } from '../../console/errors.ts';
import { parseRange } from '../../console/range.ts';
import { createConsole } from '../../console/routes.ts';
import { ConfigSchema, type Config, type ConfigInput } from '../../contracts/config.ts';
import { servingProblems } from '../../runtime/config.ts';
import { SecretUnavailableError } from '../../runtime/errors.ts';
import { startHttp } from '../../workers/http.ts';
import { startRedis } from '../../testkit/redis.ts';

/** Console and endpoint findings of the issue-12 review, each reproduced. */

const work = mkdtempSync(join(tmpdir(), 'pcpflow-harden-console-'));
after(() => rmSync(work, { recursive: true, force: true }));
const CLI = fileURLToPath(new URL('../../bin/pcpflow.js', import.meta.url));

function config(http: ConfigInput['http'], redisUrl = 'redis://127.0.0.1:1'): Config {
  return ConfigSchema.parse({
    redis: { url: redisUrl },
    http,
    log: { level: 'silent' },
    clusters: [{ name: 'secretcluster', pcp: { endpoints: [{ host: '127.0.0.1', port: 1 }], user: 'pcp' }, timeouts: { connectMs: 200, readMs: 200 }, backends: [{ address: '127.0.0.11' }] }],
  } satisfies ConfigInput);
}

function req(headers: Record<string, string> = {}): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

const url = (path: string): URL => new URL(path, 'http://localhost');

function cookieOf(decision: ReturnType<ReturnType<typeof createAuthGate>>): string {
  assert.equal(decision.kind, 'redirect');
  return decision.kind === 'redirect' ? (decision.cookie.split(';')[0] ?? '') : '';
}

test('an empty token or password, from env or file, is a config error and never "auth off"', () => {
  const emptyFile = join(work, 'empty-token');
  writeFileSync(emptyFile, '\n');
  for (const [http, env] of [
    [{ token: { env: 'T' } }, { T: '' }],
    [{ token: { env: 'T' } }, { T: '   ' }],
    [{ token: { file: emptyFile } }, {}],
    [{ basicAuth: { user: 'dba', password: { env: 'P' } } }, { P: '' }],
    [{ metricsToken: { env: 'M' } }, { M: '' }],
  ] as const) {
    const cfg = config(http);
    assert.throws(() => {
      createAuthGate(cfg.http, { env })(req(), url('/'));
      createMetricsGate(cfg.http, { env })(req());
    }, SecretUnavailableError, JSON.stringify(http));
    assert.match(servingProblems(cfg, 'cfg.yaml', env).join('\n'), /is empty/);
  }
});

test('a console bound beyond loopback without auth is refused, with the fix named', () => {
  for (const host of ['0.0.0.0', '10.0.0.5', '::']) {
    const problems = servingProblems(config({ host }), 'cfg.yaml', {});
    assert.equal(problems.length, 1, host);
    assert.match(problems[0] ?? '', /beyond loopback without authentication; set http\.token \(or http\.basicAuth\).*or bind http\.host to 127\.0\.0\.1/);
  }
  assert.deepEqual(servingProblems(config({ host: '0.0.0.0', token: { env: 'T' } }), 'cfg.yaml', { T: 'a-token-value' }), []);
  assert.deepEqual(servingProblems(config({ host: '127.0.0.1' }), 'cfg.yaml', {}), []);
});

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr });
    });
  });
}

test('config check and the worker refuse an exposed console without auth (exit 2, fix named)', async () => {
  const file = join(work, 'exposed.json');
  writeFileSync(file, JSON.stringify({ redis: { url: 'redis://127.0.0.1:1' }, http: { host: '0.0.0.0', port: 0 }, clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'pcp' }, backends: [{ address: '127.0.0.11' }] }] }));
  for (const args of [['config', 'check'], ['worker']]) {
    const r = await run([...args, '--config', file]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /http\.host: 0\.0\.0\.0 serves the console and \/metrics beyond loopback without authentication; set http\.token/);
  }
});

test('token comparison hashes both sides: any length, same answer, no early exit on length', () => {
  assert.equal(sameSecret('abc', 'abc'), true);
  assert.equal(sameSecret('abc', 'abcd'), false);
  assert.equal(sameSecret('', 'abc'), false);
  assert.equal(sameSecret('x'.repeat(10_000), 'abc'), false);
});

test('session cookies expire, and a rotated token file ends the old sessions', () => {
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, 'first-token-value\n');
  let now = Date.UTC(2026, 10, 1);
  const gate = createAuthGate(config({ token: { file: tokenFile } }).http, { now: () => now });
  const redirect = gate(req(), url('/?range=1h&token=first-token-value'));
  assert.equal(redirect.kind === 'redirect' && redirect.location, '/?range=1h');
  assert.match(redirect.kind === 'redirect' ? redirect.cookie : '', new RegExp(`Max-Age=${SESSION_TTL_S};`));
  const cookie = cookieOf(redirect);
  assert.ok(!cookie.includes('first-token-value'));
  assert.equal(gate(req({ cookie }), url('/')).kind, 'allow');

  now += (SESSION_TTL_S + 1) * 1000;
  assert.equal(gate(req({ cookie }), url('/')).kind, 'deny', 'an expired session is refused');

  const fresh = cookieOf(gate(req(), url('/?token=first-token-value')));
  assert.equal(gate(req({ cookie: fresh }), url('/')).kind, 'allow');
  writeFileSync(tokenFile, 'second-token-value-rotated\n');
  assert.equal(gate(req({ cookie: fresh }), url('/')).kind, 'deny', 'the old token’s session ends with the rotation');
  assert.equal(gate(req({ authorization: 'Bearer first-token-value' }), url('/')).kind, 'deny');
  assert.equal(gate(req({ authorization: 'Bearer second-token-value-rotated' }), url('/')).kind, 'allow');
});

test('a token in the URL is always redirected away, even when the request is otherwise authenticated', () => {
  const gate = createAuthGate(config({ token: { env: 'T' } }).http, { env: { T: 'the-token-value' } });
  const d = gate(req({ authorization: 'Bearer the-token-value' }), url('/cluster/c1?token=the-token-value&fragment=1'));
  assert.equal(d.kind, 'redirect');
  assert.equal(d.kind === 'redirect' && d.location, '/cluster/c1?fragment=1');
  assert.equal(gate(req({ authorization: 'Bearer the-token-value' }), url('/?token=wrong')).kind, 'deny');
});

async function serve(cfg: Config, env: NodeJS.ProcessEnv): Promise<{ base: string; server: Server; close: () => Promise<void> }> {
  const web = createConsole({ config: cfg, env });
  const registry = new Registry();
  const server = await startHttp({ host: '127.0.0.1', port: 0, registry, ready: async () => true, routes: web.routes, metricsGate: createMetricsGate(cfg.http, { env }) });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('no address');
  return { base: `http://127.0.0.1:${addr.port}`, server, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('/metrics follows the console auth or its own token; /healthz and /readyz stay open and name no cluster', async (t) => {
  const env = { T: 'console-token-value', M: 'metrics-token-value' };
  const consoleAuth = await serve(config({ token: { env: 'T' } }), env);
  t.after(() => consoleAuth.close());
  assert.equal((await fetch(`${consoleAuth.base}/metrics`)).status, 401);
  assert.equal((await fetch(`${consoleAuth.base}/metrics`, { headers: { authorization: 'Bearer console-token-value' } })).status, 200);
  for (const path of ['/healthz', '/readyz']) {
    const r = await fetch(`${consoleAuth.base}${path}`);
    assert.equal(r.status, 200, path);
    assert.ok(!(await r.text()).includes('secretcluster'), path);
  }

  const own = await serve(config({ token: { env: 'T' }, metricsToken: { env: 'M' } }), env);
  t.after(() => own.close());
  assert.equal((await fetch(`${own.base}/metrics`)).status, 401);
  assert.equal((await fetch(`${own.base}/metrics`, { headers: { authorization: 'Bearer metrics-token-value' } })).status, 200);
  assert.equal((await fetch(`${own.base}/metrics`, { headers: { authorization: 'Bearer console-token-value' } })).status, 401);
});

test('out-of-range time ranges are 400 with a reason, not 500', async (t) => {
  for (const since of ['999999d', '99999999s', '0001-01-01', '99999d']) assert.throws(() => parseRange(new URLSearchParams({ since })), TimeRangeError, since);
  assert.throws(() => parseRange(new URLSearchParams({ until: '999999d' })), TimeRangeError);
  assert.doesNotThrow(() => parseRange(new URLSearchParams({ since: '3650d' })));

  const redis = await startRedis();
  t.after(() => redis.stop());
  const web = await serve(config({}, redis.url), {});
  t.after(() => web.close());
  for (const q of ['since=999999d', 'until=999999d', 'since=0001-01-01T00:00Z']) {
    const r = await fetch(`${web.base}/cluster/secretcluster/backend/127.0.0.11%3A5432?${q}`);
    assert.equal(r.status, 400, q);
    assert.match(await r.text(), /out of range/);
  }
  // The same bound on the command line: exit 2 with the reason, not a Redis error.
  const file = join(work, 'audit.json');
  writeFileSync(file, JSON.stringify({ redis: { url: redis.url }, clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'pcp' }, backends: [{ address: '127.0.0.11' }] }] }));
  const cli = await run(['audit', '--since', '999999d', '--config', file]);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /--since: "999999d" is out of range/);
});
