import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../testkit/redis.ts';

/**
 * The Debian package, end to end on this machine: build it (npm run package:deb), inspect it,
 * install it with dpkg -i, run pcpflow and the hook from outside the repository, purge it.
 * Needs root and dpkg; skipped elsewhere. The machine is left as found: the pcpflow user and
 * group are removed again when this test created them.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const canRun = process.getuid?.() === 0 && spawnSync('dpkg-deb', ['--version']).status === 0;

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? tmpdir(), env: { ...process.env, ...opts.env } });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const installed = (): boolean => sh('dpkg-query', ['-W', '-f=${Status}', 'pcpflow']).stdout.includes('install ok installed');

describe('Debian package (npm run package:deb)', { skip: canRun ? false : 'needs root and dpkg-deb' }, () => {
  let work = '';
  let deb = '';
  let userExisted = false;
  let groupExisted = false;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'pcpflow-deb-test-'));
    if (installed()) ok(sh('dpkg', ['--purge', 'pcpflow']), 'purge of a pcpflow left installed');
    userExisted = sh('getent', ['passwd', 'pcpflow']).status === 0;
    groupExisted = sh('getent', ['group', 'pcpflow']).status === 0;
    const out = ok(sh('bash', [join(ROOT, 'scripts', 'package-deb.sh')], { cwd: ROOT, env: { PCPFLOW_DEB_OUT: work } }), 'package:deb');
    deb = out.trim().split('\n').at(-1) ?? '';
  });

  after(() => {
    if (installed()) sh('dpkg', ['--purge', 'pcpflow']);
    if (!userExisted) sh('userdel', ['pcpflow']);
    if (!groupExisted) sh('groupdel', ['pcpflow']);
    rmSync(work, { recursive: true, force: true });
  });

  it('is a package of the built JavaScript and production dependencies, depending on nodejs >= 20', () => {
    assert.ok(existsSync(deb), `no package at ${deb}`);
    assert.equal(ok(sh('dpkg-deb', ['-f', deb, 'Package']), 'dpkg-deb -f').trim(), 'pcpflow');
    assert.match(ok(sh('dpkg-deb', ['-f', deb, 'Depends']), 'dpkg-deb -f'), /\bnodejs \(>= 20\)/);
    const files = ok(sh('dpkg-deb', ['-c', deb]), 'dpkg-deb -c')
      .split('\n')
      .map((l) => l.split(/\s+/).slice(5).join(' ').replace(/^\./, ''))
      .filter(Boolean);
    for (const f of [
      '/usr/lib/pcpflow/bin/pcpflow.js',
      '/usr/lib/pcpflow/bin/pcpflow-hook.cjs',
      '/usr/lib/pcpflow/build/main.js',
      '/usr/lib/pcpflow/workers/lua/commit-decision.lua',
      '/usr/lib/pcpflow/audit/lua/append-records.lua',
      '/usr/lib/pcpflow/node_modules/bullmq/package.json',
      '/usr/bin/pcpflow -> ../lib/pcpflow/bin/pcpflow.js',
      '/usr/bin/pcpflow-hook -> ../lib/pcpflow/bin/pcpflow-hook.cjs',
      '/etc/pcpflow/pcpflow.example.yaml',
      '/etc/pcpflow/pcppass.example',
      '/lib/systemd/system/pcpflow-worker.service',
      '/lib/systemd/system/pcpflow-outbox.service',
      '/lib/systemd/system/pcpflow-outbox.timer',
    ])
      assert.ok(files.includes(f), `the package has ${f}`);
    const ours = files.filter((f) => f.startsWith('/usr/lib/pcpflow/') && !f.includes('/node_modules/'));
    assert.deepEqual(ours.filter((f) => /\.ts$|\/(test|bench|lab|scripts|contracts|machines)\//.test(f)), [], 'no sources, tests or benches');
    for (const dev of ['tsx', 'esbuild', 'typescript', 'eslint', 'zod', 'commander', 'playwright-core'])
      assert.ok(!files.some((f) => f.startsWith(`/usr/lib/pcpflow/node_modules/${dev}/`)), `${dev} (dev only) is not shipped`);
    assert.ok(!files.some((f) => f.startsWith('/etc/systemd/')), 'no unit is enabled by the package');
    assert.ok(!files.includes('/etc/pcpflow/pcpflow.yaml'), 'the config is an example, not enabled');
  });

  it('installs with dpkg -i: user, group, directories and modes; the units installed, not enabled', () => {
    const out = ok(sh('dpkg', ['-i', deb]), 'dpkg -i');
    assert.match(out, /Next:/, 'postinst says what to do next');
    assert.equal(sh('getent', ['passwd', 'pcpflow']).status, 0, 'system user pcpflow');
    const mode = (p: string) => statSync(p).mode & 0o7777;
    const group = (p: string) => ok(sh('stat', ['-c', '%U:%G', p]), 'stat').trim();
    assert.equal(mode('/etc/pcpflow/pcpflow.example.yaml'), 0o640);
    assert.equal(group('/etc/pcpflow/pcpflow.example.yaml'), 'root:pcpflow');
    assert.equal(mode('/etc/pcpflow/pcppass.example'), 0o600);
    assert.equal(group('/etc/pcpflow/pcppass.example'), 'pcpflow:pcpflow');
    assert.equal(mode('/var/spool/pcpflow'), 0o2770, 'setgid outbox shared by the hooks');
    assert.equal(group('/var/spool/pcpflow'), 'pcpflow:pcpflow');
    for (const u of ['postgres', 'efm'])
      if (sh('getent', ['passwd', u]).status === 0)
        assert.match(ok(sh('id', ['-nG', u]), 'id'), /\bpcpflow\b/, `${u} is in the pcpflow group (hooks write the outbox)`);
    for (const unit of ['pcpflow-worker.service', 'pcpflow-outbox.service', 'pcpflow-outbox.timer']) {
      const text = readFileSync(join('/lib/systemd/system', unit), 'utf8');
      for (const m of text.matchAll(/^ReadWritePaths=(.*)$/gm))
        for (const p of (m[1] ?? '').split(/\s+/).filter(Boolean)) assert.ok(existsSync(p.replace(/^-/, '')), `${unit}: ReadWritePaths ${p} exists`);
      for (const wants of ['multi-user.target.wants', 'timers.target.wants'])
        assert.ok(!existsSync(join('/etc/systemd/system', wants, unit)), `${unit} is not enabled`);
    }
  });

  it('systemd-analyze verify accepts the installed units', { skip: sh('systemd-analyze', ['--version']).status === 0 ? false : 'no systemd-analyze' }, () => {
    const r = sh('systemd-analyze', ['verify', '/lib/systemd/system/pcpflow-worker.service', '/lib/systemd/system/pcpflow-outbox.service', '/lib/systemd/system/pcpflow-outbox.timer']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /pcpflow/, `no warning about pcpflow's units: ${r.stderr}`);
  });

  it('runs pcpflow --help, pcpflow config check and the hook from outside the repository', async () => {
    const cwd = mkdtempSync(join(work, 'elsewhere-'));
    const help = ok(sh('pcpflow', ['--help'], { cwd }), 'pcpflow --help');
    assert.match(help, /^Usage: pcpflow/m);
    assert.equal(sh('which', ['pcpflow']).stdout.trim(), '/usr/bin/pcpflow');

    // The shipped example names /etc/pcpflow/pcppass, which the admin creates: config check says so.
    const example = sh('pcpflow', ['config', 'check', '--config', '/etc/pcpflow/pcpflow.example.yaml'], { cwd });
    assert.equal(example.status, 2);
    assert.match(example.stderr, /\/etc\/pcpflow\/pcppass/);

    // As the README's step 1 and 2 say: a config and a 0600 passfile of one's own.
    const passfile = join(cwd, 'pcppass');
    writeFileSync(passfile, '*:9898:pcpadmin:secret\n', { mode: 0o600 });
    const config = join(cwd, 'pcpflow.yaml');
    writeFileSync(
      config,
      readFileSync('/etc/pcpflow/pcpflow.example.yaml', 'utf8').replace('/etc/pcpflow/pcppass', passfile).replace('/var/spool/pcpflow', join(cwd, 'outbox')),
    );
    assert.match(ok(sh('pcpflow', ['config', 'check', '--config', config], { cwd }), 'config check'), /ok \(1 cluster\(s\), 3 backend\(s\)\)/);

    // The hook with Redis refusing: the event is spooled (exit 0), and outbox status counts it.
    const env = { PCPFLOW_CONFIG: config, PCPFLOW_REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    const hook = sh('pcpflow-hook', ['efm', 'detach', '10.0.0.12', 's'], { cwd, env });
    assert.equal(hook.status, 0, hook.stderr);
    assert.equal(readdirSync(join(cwd, 'outbox', 'prod')).filter((f) => f.endsWith('.event')).length, 1);
    assert.match(ok(sh('pcpflow', ['outbox', 'status'], { cwd, env }), 'outbox status'), /prod: 1 spooled/);
  });

  it('purges: files, configuration, spool and logs are gone', () => {
    ok(sh('dpkg', ['--purge', 'pcpflow']), 'dpkg --purge');
    for (const p of ['/usr/lib/pcpflow', '/usr/bin/pcpflow', '/usr/bin/pcpflow-hook', '/etc/pcpflow', '/var/spool/pcpflow', '/var/log/pcpflow', '/lib/systemd/system/pcpflow-worker.service'])
      assert.ok(!existsSync(p), `${p} removed`);
    assert.ok(!installed());
  });
});
