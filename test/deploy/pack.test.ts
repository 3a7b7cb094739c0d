import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

/**
 * `npm pack` ships what runs and nothing else, and the tarball installs with `npm install -g`
 * from any directory and runs there. The global install goes to a prefix of the test's own
 * (npm's real -g layout, without touching the machine's global packages) and is uninstalled.
 */
const ROOT = join(import.meta.dirname, '..', '..');

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', cwd, env: { ...process.env, ...env } });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** What the package may contain: the bins, the build, the Lua scripts, deploy examples, and npm's own. */
const ALLOWED = [/^bin\/pcpflow\.js$/, /^bin\/pcpflow-hook(-main|-yaml)?\.cjs$/, /^bin\/pcpflow-hook-main\.v8cache$/, /^build\/[\w/-]+\.js$/, /^(audit|workers)\/lua\/[\w-]+\.lua$/, /^deploy\/[\w.-]+$/, /^(package\.json|README\.md|LICENSE)$/];

describe('npm pack and npm install -g', () => {
  let work = '';
  let tarball = '';
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'pcpflow-pack-test-'));
    const out = ok(sh('npm', ['pack', '--json', '--pack-destination', work], ROOT), 'npm pack');
    const info = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(work, info[0]?.filename ?? '');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('the tarball lists only what runs: bins, build/, Lua scripts, deploy examples, LICENSE', () => {
    const files = ok(sh('tar', ['-tzf', tarball], work), 'tar -t')
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''))
      .sort();
    process.stdout.write(`# npm pack: ${files.length} files\n${files.map((f) => `#   ${f}`).join('\n')}\n`);
    for (const f of files) assert.ok(ALLOWED.some((re) => re.test(f)), `${f} should not be in the package`);
    for (const must of ['bin/pcpflow.js', 'bin/pcpflow-hook.cjs', 'bin/pcpflow-hook-main.cjs', 'bin/pcpflow-hook-main.v8cache', 'build/main.js', 'build/outbox.js', 'workers/lua/commit-decision.lua', 'audit/lua/append-records.lua', 'LICENSE', 'package.json'])
      assert.ok(files.includes(must), `${must} is in the package`);
    assert.ok(files.length < 120, `${files.length} files`);
  });

  it('installs globally from another directory, runs there, and uninstalls', () => {
    const prefix = join(work, 'prefix');
    const elsewhere = mkdtempSync(join(work, 'elsewhere-'));
    ok(sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], elsewhere), 'npm install -g');
    const bin = join(prefix, 'bin');
    assert.match(ok(sh(join(bin, 'pcpflow'), ['--help'], elsewhere), 'pcpflow --help'), /^Usage: pcpflow/m);
    assert.match(sh(join(bin, 'pcpflow-hook'), ['--help'], elsewhere).stderr + sh(join(bin, 'pcpflow-hook'), ['--help'], elsewhere).stdout, /usage: pcpflow-hook/);
    const passfile = join(elsewhere, 'pcppass');
    writeFileSync(passfile, '*:9898:pcpadmin:secret\n', { mode: 0o600 });
    const config = join(elsewhere, 'pcpflow.json');
    writeFileSync(
      config,
      JSON.stringify({
        outbox: { dir: join(elsewhere, 'outbox') },
        clusters: [{ name: 'main', pcp: { endpoints: [{ host: '127.0.0.1', port: 9898, label: 'pgpool' }], user: 'pcpadmin', passfile }, backends: [{ address: '10.0.0.11', port: 5432 }] }],
      }),
    );
    assert.match(ok(sh(join(bin, 'pcpflow'), ['config', 'check', '--config', config], elsewhere), 'config check'), /ok \(1 cluster/);
    assert.match(ok(sh(join(bin, 'pcpflow'), ['outbox', 'flush', '--config', config], elsewhere), 'outbox flush'), /main: outbox empty/);
    ok(sh('npm', ['uninstall', '-g', '--prefix', prefix, '--loglevel=error', 'pcpflow'], elsewhere), 'npm uninstall -g');
    assert.ok(!existsSync(join(bin, 'pcpflow')), 'uninstalled');
    assert.ok(!existsSync(join(prefix, 'lib', 'node_modules', 'pcpflow')), 'uninstalled');
  });
});
