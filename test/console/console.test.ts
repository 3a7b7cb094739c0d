import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { AuditStore } from '../../audit/store.ts';
import { createConsole } from '../../console/routes.ts';
import { esc, html, trusted } from '../../console/html.ts';
import { ConfigSchema, type Config, type ConfigInput } from '../../contracts/config.ts';
import { callHook } from '../../lab/drills/hook-call.ts';
import { startWorker, type WorkerProcess } from '../../lab/drills/fleet-processes.ts';
import { stopNode } from '../../lab/nodes.ts';
import { registerSecret } from '../../runtime/redact.ts';
import { startHttp } from '../../workers/http.ts';
import { labId, startLab, type TestLab } from '../../testkit/lab.ts';
import { freePort, startRedis } from '../../testkit/redis.ts';
import { openConsoleBrowser } from '../../testkit/browser.ts';

/**
 * The operator console at its three levels: markup escaping, the routes in process against a real
 * Redis (auth, read-only, escaping), and Chromium against the lab for the live view and the export.
 * Over 300 lines: the three levels share their helpers and fixtures (config, server, stream reading).
 */
const LAB_ID = labId(9);
const ARTIFACTS = fileURLToPath(new URL('../../artifacts/', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/pcpflow.js', import.meta.url));
const TOKEN = 'console-test-token-7f3a9c';
const TOKEN_ENV = 'PCPFLOW_CONSOLE_TOKEN';
const EVIL = `<script>alert("x")</script><img src=x onerror=alert(1)>`;

/** Polls `check` until it returns a value, or fails naming `what` at the deadline. */
async function until<T>(what: string, check: () => Promise<T | undefined | null | false>, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads a stream until `text` has arrived; a stream that stays silent fails at the deadline. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, text: string, deadlineMs = 10_000): Promise<string> {
  const decoder = new TextDecoder();
  let got = '';
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`stream did not carry ${JSON.stringify(text)}; got ${JSON.stringify(got)}`)), deadlineMs)));
  try {
    while (!got.includes(text)) {
      const { value, done } = await Promise.race([reader.read(), deadline]);
      if (done) throw new Error(`stream ended before ${JSON.stringify(text)}; got ${JSON.stringify(got)}`);
      got += decoder.decode(value, { stream: true });
    }
    return got;
  } finally {
    clearTimeout(timer);
  }
}

function offlineConfig(redisUrl: string, pcpPort: number, http: ConfigInput['http']): Config {
  return ConfigSchema.parse({
    redis: { url: redisUrl },
    http,
    log: { level: 'silent' },
    clusters: [
      {
        name: 'c1',
        // Nothing listens there: pages must still render, with pgpool shown unreachable.
        pcp: { endpoints: [{ host: '127.0.0.1', port: pcpPort }], user: 'pcp' },
        timeouts: { connectMs: 300, readMs: 300, verifyMs: 300 },
        backends: [{ address: '127.0.0.11' }, { address: '127.0.0.12' }],
      },
    ],
  } satisfies ConfigInput);
}

async function serveConsole(config: Config, env: NodeJS.ProcessEnv): Promise<{ base: string; server: Server; close(): Promise<void> }> {
  const web = createConsole({ config, env });
  const server = await startHttp({ host: '127.0.0.1', port: 0, registry: new Registry(), ready: async () => true, routes: web.routes });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('no address');
  return { base: `http://127.0.0.1:${addr.port}`, server, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('html: interpolations are escaped, trusted markup is not', () => {
  const out = html`<p title="${EVIL}">${EVIL}${[1, '<b>', trusted('<i>ok</i>')]}</p>`.text;
  assert.ok(!out.includes('<script>') && !out.includes('<img') && !out.includes('<b>'));
  assert.ok(out.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
  assert.ok(out.includes('<i>ok</i>'));
  assert.equal(esc(`'\``), '&#39;&#96;');
  registerSecret('a-registered-secret');
  assert.equal(html`pw=${'a-registered-secret'}`.text, 'pw=[REDACTED]');
});

test('auth, read-only and escaping, in process against a real Redis', async (t) => {
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  t.after(async () => {
    redis.disconnect();
    await redisServer.stop();
  });
  const pcpPort = await freePort();
  const store = new AuditStore(redis, '{pcpflow}');
  await store.append('c1', [
    {
      kind: 'decision',
      cluster: 'c1',
      at: new Date().toISOString(),
      eventId: 'e1',
      eventType: 'efm.detach',
      backend: '127.0.0.12:5432',
      from: 'up.serving',
      to: 'detached.confirming',
      note: `hostile note ${EVIL}`,
      payload: { type: 'efm.detach', source: 'efm', argv: ['efm', 'detach', EVIL, 's'] },
    },
  ]);

  const env = { [TOKEN_ENV]: TOKEN };
  const tokenConsole = await serveConsole(offlineConfig(redisServer.url, pcpPort, { token: { env: TOKEN_ENV } }), env);
  t.after(() => tokenConsole.close());
  const { base } = tokenConsole;
  const bearer = { authorization: `Bearer ${TOKEN}` };

  // Health endpoints stay open; console pages do not.
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/metrics`)).status, 200);
  for (const path of ['/', '/events', '/cluster/c1/backend/127.0.0.12%3A5432', '/cluster/c1/backend/127.0.0.12%3A5432/report.html']) {
    const r = await fetch(`${base}${path}`);
    assert.equal(r.status, 401, path);
    assert.ok(!(await r.text()).includes(TOKEN));
  }
  assert.equal((await fetch(`${base}/`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  assert.equal((await fetch(`${base}/?token=wrong`, { redirect: 'manual' })).status, 401);
  assert.equal((await fetch(`${base}/`, { method: 'POST', headers: bearer })).status, 405);

  const home = await fetch(`${base}/`, { headers: bearer });
  assert.equal(home.status, 200);
  const homeText = await home.text();
  assert.ok(homeText.includes('127.0.0.12:5432') && !homeText.includes(TOKEN));
  assert.match(home.headers.get('content-security-policy') ?? '', /script-src 'sha256-/);

  // ?token= → cookie (HttpOnly, not the token itself) and a redirect that drops the token.
  const redirect = await fetch(`${base}/cluster/c1/backend/127.0.0.12%3A5432?range=all&token=${TOKEN}`, { redirect: 'manual' });
  assert.equal(redirect.status, 303);
  assert.equal(redirect.headers.get('location'), '/cluster/c1/backend/127.0.0.12%3A5432?range=all');
  const cookie = redirect.headers.get('set-cookie') ?? '';
  assert.match(cookie, /HttpOnly/);
  assert.ok(!cookie.includes(TOKEN));
  const page = await fetch(`${base}/cluster/c1/backend/127.0.0.12%3A5432?range=all`, { headers: { cookie: cookie.split(';')[0] ?? '' } });
  assert.equal(page.status, 200);
  const text = await page.text();
  // What came from outside is shown, escaped; none of it is markup.
  assert.ok(!text.includes('<script>alert') && !text.includes('<img src=x'), 'hostile text escaped');
  assert.ok(text.includes('hostile note &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;'));
  assert.ok(text.includes('<svg'), 'diagram inlined');
  assert.match(text, /Hash chain of cluster c1 intact: 1 records checked/);
  assert.match(text, /pgpool unreachable/);
  assert.ok(!text.includes(TOKEN));

  const missing = await fetch(`${base}/cluster/c1/backend/${encodeURIComponent(EVIL)}`, { headers: bearer });
  assert.equal(missing.status, 404);
  assert.ok(!(await missing.text()).includes('<script>alert'));
  const badRange = await fetch(`${base}/cluster/c1/backend/127.0.0.12%3A5432?since=${encodeURIComponent(EVIL)}`, { headers: bearer });
  assert.equal(badRange.status, 400);
  assert.ok(!(await badRange.text()).includes('<script>alert'));
  assert.equal((await fetch(`${base}/cluster/nope/backend/x`, { headers: bearer })).status, 404);

  // Server-sent events: an append to c1's trail reaches an open stream; closing the server ends it.
  const sse = await fetch(`${base}/events?cluster=c1`, { headers: bearer });
  assert.equal(sse.status, 200);
  assert.match(sse.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = sse.body?.getReader();
  if (!reader) throw new Error('no body');
  await readUntil(reader, ': connected');
  await store.append('c1', [{ kind: 'drift', cluster: 'c1', at: new Date().toISOString(), backend: '127.0.0.11:5432', note: 'a test append' }]);
  await readUntil(reader, 'event: audit\ndata: c1\n\n');
  await tokenConsole.close();
  assert.equal((await reader.read()).done, true, 'the stream ends when the server closes');

  // Basic auth: a challenge when absent, 401 when wrong, the page when right.
  const basicEnv = { PCPFLOW_CONSOLE_PASSWORD: 's3cret-basic-pw' };
  const basicConsole = await serveConsole(offlineConfig(redisServer.url, pcpPort, { basicAuth: { user: 'dba', password: { env: 'PCPFLOW_CONSOLE_PASSWORD' } } }), basicEnv);
  t.after(() => basicConsole.close());
  const challenge = await fetch(`${basicConsole.base}/`);
  assert.equal(challenge.status, 401);
  assert.match(challenge.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });
  assert.equal((await fetch(`${basicConsole.base}/`, { headers: basic('dba', 'wrong') })).status, 401);
  assert.equal((await fetch(`${basicConsole.base}/`, { headers: basic('other', 's3cret-basic-pw') })).status, 401);
  const ok = await fetch(`${basicConsole.base}/`, { headers: basic('dba', 's3cret-basic-pw') });
  assert.equal(ok.status, 200);
  assert.ok(!(await ok.text()).includes('s3cret-basic-pw'));
});

test('end to end: a standby detach shows up live in Chromium, and the export is self-contained', { timeout: 300_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'pcpflow-console-'));
  // Torn down in reverse order of start, whatever fails: browser, worker, lab, files.
  const cleanups: Array<() => Promise<unknown> | unknown> = [() => rmSync(work, { recursive: true, force: true })];
  try {
    await drill(work, cleanups);
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err: unknown) => t.diagnostic(`cleanup failed: ${String(err)}`));
  }
});

async function drill(work: string, cleanups: Array<() => Promise<unknown> | unknown>): Promise<void> {
  const lab: TestLab = await startLab({ id: LAB_ID });
  cleanups.push(() => lab.stop());

  const httpPort = await freePort();
  const configPath = join(work, 'pcpflow.json');
  const input = { ...lab.config, http: { host: '127.0.0.1', port: httpPort, token: { env: TOKEN_ENV } } };
  writeFileSync(configPath, JSON.stringify(ConfigSchema.parse(input)));
  const worker: WorkerProcess = await startWorker({ configPath, httpPort, logFile: join(work, 'worker.log'), env: { [TOKEN_ENV]: TOKEN } });
  cleanups.push(() => worker.stop());
  const base = `http://127.0.0.1:${httpPort}`;

  assert.equal((await fetch(`${base}/`)).status, 401);
  assert.equal((await fetch(`${base}/events`)).status, 401);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);

  const standby = lab.nodes[lab.nodes.length - 1];
  if (!standby) throw new Error('lab has no standby');
  const address = `${standby.address}:${standby.port}`;
  // The decider bootstraps the cluster state from pgpool on start; wait until the page shows it.
  await until('the standby up on the overview', async () => {
    const r = await fetch(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await r.text();
    return r.ok && new RegExp(`data-backend="${address.replace(/\./g, '\\.')}"><td><a[^>]*>[^<]*</a></td><td class="machine state state-up"`).test(text);
  });

  const { context, page, external } = await openConsoleBrowser(join(work, 'chromium'), base);
  cleanups.push(() => context.close());

  // The token once in the URL; from then on the HttpOnly cookie carries the session.
  await page.goto(`${base}/?token=${TOKEN}`);
  assert.equal(new URL(page.url()).search, '', 'the token is dropped from the address bar');
  const cookies = await context.cookies(base);
  assert.ok(cookies.some((c) => c.name === 'pcpflow_console' && c.httpOnly && c.value !== TOKEN));
  await page.locator(`tr[data-backend="${address}"] a`).click();
  await page.waitForURL((u) => u.pathname.includes('/backend/'));
  await page.locator('#backend-status td.machine', { hasText: 'up' }).waitFor({ timeout: 30_000 });
  await page.locator('.diagram svg').waitFor();
  await page.locator('body[data-live="on"]').waitFor({ timeout: 30_000 });
  const updatesBefore = Number((await page.locator('body').getAttribute('data-updates')) ?? '0');

  // The drill step: the standby dies, EFM calls the detach hook.
  await stopNode(lab, standby.name, { immediate: true });
  const hook = await callHook(configPath, lab.config.clusters[0]?.name ?? 'lab', ['efm', 'detach', standby.address, 's'], { node: lab.nodes[0]?.address ?? '' });
  assert.equal(hook.code, 0, hook.stderr);

  // No reload: the page swaps its content on the audit events the worker publishes.
  await page.locator('#backend-status td.machine', { hasText: 'detached' }).waitFor({ timeout: 60_000 });
  await page.locator('.episode', { hasText: 'efm detach' }).locator('.step-attempt', { hasText: 'changed' }).first().waitFor({ timeout: 60_000 });
  await page.locator('#backend-status td.pgpool', { hasText: 'down' }).waitFor({ timeout: 60_000 });
  await page.locator('table.path td.n', { hasText: '1' }).first().waitFor();
  const updatesAfter = Number((await page.locator('body').getAttribute('data-updates')) ?? '0');
  assert.ok(updatesAfter > updatesBefore, 'content was refreshed by server-sent events');
  assert.equal(await page.locator('body').getAttribute('data-live'), 'on');
  assert.match((await page.locator('.chain').textContent()) ?? '', /intact/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'console.png'), fullPage: true });
  assert.deepEqual(external, [], 'the page loaded nothing from outside');
  assert.ok(!(await page.content()).includes(TOKEN));

  // The export: the same view as one file, no external resource, with the diagram.
  const href = await page.locator('a.export').getAttribute('href');
  assert.ok(href);
  const report = await page.request.get(`${base}${href}`);
  assert.equal(report.status(), 200);
  const doc = await report.text();
  writeFileSync(join(ARTIFACTS, 'console-report.html'), doc);
  assert.ok(doc.includes('<svg'), 'diagram inlined');
  assert.ok(!/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i.test(doc), 'no external src/href');
  assert.ok(!/<script\b/i.test(doc), 'no script in the export');
  assert.ok(!/<link\b/i.test(doc), 'no stylesheet link');
  assert.match(doc, /detached/);
  assert.match(doc, /Hash chain of cluster lab intact/);
  assert.ok(!doc.includes(TOKEN));

  // `pcpflow console` alone: same pages and auth, no worker role.
  const consolePort = await freePort();
  const standalone = spawn(process.execPath, [CLI, 'console', '--config', configPath, '--port', String(consolePort)], {
    env: { ...process.env, [TOKEN_ENV]: TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = once(standalone, 'exit');
  cleanups.push(async () => {
    if (standalone.exitCode === null && standalone.signalCode === null) {
      standalone.kill('SIGTERM');
      await exited;
    }
  });
  const consoleBase = `http://127.0.0.1:${consolePort}`;
  await until('pcpflow console ready', () => fetch(`${consoleBase}/readyz`).then((r) => r.ok, () => false));
  assert.equal((await fetch(`${consoleBase}/`)).status, 401);
  const alone = await fetch(`${consoleBase}/cluster/lab/backend/${encodeURIComponent(address)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(alone.status, 200);
  assert.match(await alone.text(), /class="machine state state-detached"/);
  standalone.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0);
}
