import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'pcpflow.js');

/**
 * The worker and the operator commands read the files a config names the way the hooks do: a
 * FIFO, a device or an oversize file is refused at once with exit 2 and a line naming it. Before,
 * `readFileSync` of a FIFO secret blocked the worker's start until a writer came (forever), and
 * `/dev/zero` grew it until memory ran out. The kill timeout below only keeps a regression from
 * hanging the suite; the assertions are on the exit code and the message.
 */
async function pcpflow(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [CLI, ...args], { timeout: 30_000, killSignal: 'SIGKILL', env: { ...process.env, PCPFLOW_CONFIG: '' } });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code?: unknown; signal?: unknown; stderr?: string };
    if (e.signal) throw new Error(`pcpflow ${args.join(' ')} was killed by ${String(e.signal)}: it hung`);
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? '' };
  }
}

describe('files named by the config are read with a bound', () => {
  let dir = '';
  let fifo = '';
  const config = (extra: Record<string, unknown>, name = 'config.json') => {
    const path = join(dir, name);
    const cluster = { name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1', port: 9 }], user: 'pcpadmin' }, backends: [{ address: '127.0.0.1', port: 5432 }] };
    writeFileSync(path, JSON.stringify({ redis: { url: 'redis://127.0.0.1:9' }, outbox: { dir: join(dir, 'outbox') }, clusters: [cluster], ...extra }));
    return path;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pcpflow-config-files-'));
    fifo = join(dir, 'a.fifo');
    execFileSync('mkfifo', [fifo]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [what, path, says] of [
    ['a FIFO', () => fifo, /is a FIFO, not a regular file/],
    ['/dev/zero', () => '/dev/zero', /is a character device, not a regular file/],
    ['a directory', () => dir, /is a directory, not a regular file/],
  ] as const) {
    it(`config check refuses ${what} as the config file (exit 2)`, async () => {
      const r = await pcpflow(['config', 'check', '--no-stream-check', '--config', path()]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, says);
    });
  }

  it('config check refuses a config file over 4 MiB (exit 2)', async () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(5_000_000)}\n`);
    const r = await pcpflow(['config', 'check', '--no-stream-check', '--config', big]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bytes; at most 4194304 are read/);
  });

  it('config check refuses a FIFO as the console token file (exit 2)', async () => {
    const r = await pcpflow(['config', 'check', '--no-stream-check', '--config', config({ http: { host: '127.0.0.1', token: { file: fifo } } })]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /http\.token: secret file .*a\.fifo is a FIFO, not a regular file/);
  });

  it('config check refuses /dev/zero as the passfile (exit 2)', async () => {
    const path = config({});
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { clusters: { pcp: Record<string, unknown> }[] };
    raw.clusters[0]!.pcp.passfile = '/dev/zero';
    writeFileSync(path, JSON.stringify(raw));
    const r = await pcpflow(['config', 'check', '--no-stream-check', '--config', path]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /clusters\.0\.pcp\.passfile: \/dev\/zero is not a regular file/);
  });

  it('the worker refuses a FIFO as its Redis password file instead of blocking at start (exit 2)', async () => {
    const path = config({ redis: { url: 'redis://127.0.0.1:9', password: { file: fifo } } });
    const r = await pcpflow(['worker', '--no-http', '--config', path]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /secret file .*a\.fifo is a FIFO, not a regular file/);
  });
});
