import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hasControls } from '../../contracts/text.ts';
import { NativeDriver } from '../../pcp/native.ts';
import { opsOver } from '../../pcp/index.ts';
import { PcpServerError } from '../../pcp/errors/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { notify } from '../../workers/notify.ts';
import { startPcpServer, type PcpTestServer } from '../../testkit/pcp-server.ts';
import { clusterFor, passfileFor, tempDir } from './helpers.ts';

/**
 * Text from pgpool reaches the audit (outcome reasons), logs, terminals and the notification
 * command. A hostile or broken pgpool must not be able to put terminal escapes, carriage returns
 * (forged log lines) or bidi overrides in any of them.
 */

const dir = tempDir();
const passfile = passfileFor(dir);
const bin = fileURLToPath(new URL('../../bin/pcpflow.js', import.meta.url));
after(() => dir.remove());

const HOSTILE = 'boom\x1b[2J\x1b]0;pwned\x07\r\nlevel=info msg="forged line"\u202egnp.exe\u0085';
/** Node fields are at most 64 characters once escaped. */
const FIELD = 'boom\x1b[2J\r\n\u202e';

function allStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) allStrings(x, out);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) allStrings([k, x], out);
  return out;
}

function assertClean(v: unknown, what: string): void {
  for (const s of allStrings(v)) assert.ok(!hasControls(s), `${what} carries a control character: ${JSON.stringify(s)}`);
}

async function withServer(fn: (s: PcpTestServer) => Promise<void>): Promise<PcpTestServer> {
  const s = await startPcpServer({
    backends: [
      { host: '127.0.0.1', port: 15432, status: 2, role: 'primary', pgStatus: FIELD, replState: FIELD },
      { host: '127.0.0.1', port: 15433, status: 2, role: 'standby', pgRole: FIELD, replSyncState: FIELD },
    ],
  });
  try {
    await fn(s);
  } finally {
    await s.stop();
  }
  return s;
}

test('node fields from pgpool come out with control characters escaped, and still visible', async () => {
  await withServer(async (s) => {
    const d = new NativeDriver(clusterFor([s], { passfile }));
    const a = await d.nodes();
    assertClean(a, 'node info');
    assert.match(a.value.nodes[0]?.backendStatus ?? '', /^boom\\u\{1b\}\[2J/);
  });
});

test('error and notice texts are escaped before they become error messages, outcome reasons and log lines', async () => {
  await withServer(async (s) => {
    const notices: unknown[] = [];
    const cluster = clusterFor([s], { passfile, backends: [{ address: '127.0.0.1', port: 15432 }, { address: '127.0.0.1', port: 15433 }] });
    const d = new NativeDriver(cluster, { onNotice: (n) => notices.push(n) });
    s.faultOnce('I', { kind: 'notice', messages: [HOSTILE] });
    await d.nodes();
    assert.equal(notices.length, 1);
    assertClean(notices, 'notice');

    s.faultOnce('D', { kind: 'error', severity: 'ERROR', message: HOSTILE, detail: HOSTILE });
    const err = await d.detach(1).then(
      () => assert.fail('detach should have been refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PcpServerError);
    assertClean([err.message, err.report], 'server error');

    // What the executor audits and notifies: the outcome's reason.
    s.setFault((r) => (r.type === 'I' ? { kind: 'error', severity: 'FATAL', message: HOSTILE, detail: HOSTILE } : undefined));
    const outcome = await opsOver(cluster, d).ensureDetached('127.0.0.1:15433', { verifyMs: 200 });
    assert.equal(outcome.result, 'failed');
    assertClean(outcome, 'ensure outcome');
    s.setFault(undefined);
  });
});

test('pcpflow pcp nodes prints no control character from pgpool, in table or JSON', async () => {
  await withServer(async (s) => {
    const config = dir.file(
      'hostile.json',
      JSON.stringify({
        outbox: { dir: dir.path },
        clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1', port: s.port }], user: 'pcpadmin', passfile }, backends: [{ address: '127.0.0.1', port: 15432 }] }],
      }),
    );
    for (const extra of [[], ['--json']]) {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, [bin, 'pcp', 'nodes', '--config', config, ...extra], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
      assert.ok(!hasControls(out.replace(/\n/g, '')), `output carries a control character: ${JSON.stringify(out)}`);
      assert.ok(out.includes('boom'));
    }
  });
});

test('the notification command gets subject and body without control characters (newlines kept in the body)', async () => {
  const argvFile = `${dir.path}/notify-argv.json`;
  const script = dir.file('record-argv.cjs', `require('fs').writeFileSync(${JSON.stringify(argvFile)}, JSON.stringify(process.argv.slice(2)));\n`, 0o700);
  await notify([process.execPath, script], `subject ${HOSTILE}`, `line one\nreason: ${HOSTILE}`, createLogger({ level: 'silent' }));
  const argv = JSON.parse(readFileSync(argvFile, 'utf8')) as string[];
  assert.equal(argv.length, 2);
  assert.ok(!hasControls(argv[0] ?? ''), argv[0]);
  assert.ok(!hasControls((argv[1] ?? '').replace(/\n/g, '')), argv[1]);
  assert.match(argv[1] ?? '', /^line one\nreason: boom\\u\{1b\}/);
});
