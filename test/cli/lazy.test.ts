import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { COMMANDS, commandNamed } from '../../cli/commands/index.ts';
import { fastCommand } from '../../cli/fast-argv.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'pcpflow.js');
const TRACE = join(ROOT, 'testkit', 'module-trace.mjs');
/** What a `--help` must never load: the issue names these three, the heavy ones. */
const HEAVY = ['ioredis', 'bullmq', 'xstate'];

/** The packages (under node_modules) a run of the built CLI loads. */
async function packagesLoaded(args: string[]): Promise<Set<string>> {
  const dir = mkdtempSync(join(tmpdir(), 'pcpflow-trace-'));
  try {
    const trace = join(dir, 'trace');
    await run(process.execPath, ['--import', TRACE, CLI, ...args], { env: { ...process.env, PCPFLOW_MODULE_TRACE: trace } });
    const urls = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    assert.ok(urls.some((u) => u.includes('/build/main.js')), 'the trace saw the built CLI load');
    const pkgs = new Set<string>();
    for (const u of urls) {
      const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
      if (m?.[1]) pkgs.add(m[1]);
    }
    return pkgs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('pcpflow loads a subcommand only when it runs', () => {
  it('`pcpflow --help` loads no Redis, BullMQ or XState code (nor any other npm package)', async () => {
    const pkgs = await packagesLoaded(['--help']);
    assert.deepEqual([...pkgs], [], `--help loaded ${[...pkgs].join(', ')}`);
  });

  for (const d of COMMANDS) {
    it(`\`pcpflow ${d.name} --help\` loads no Redis, BullMQ or XState code`, async () => {
      const pkgs = await packagesLoaded([d.name, '--help']);
      const heavy = HEAVY.filter((p) => pkgs.has(p));
      assert.deepEqual(heavy, [], `${d.name} --help loaded ${heavy.join(', ')}: import them inside the action (see cli/commands/index.ts)`);
    });
  }

  it("each descriptor's summary is the description its module registers", async () => {
    for (const d of COMMANDS) {
      const program = new Command('pcpflow');
      (await d.load()).register(program);
      const cmd = program.commands.find((c) => c.name() === d.name);
      assert.ok(cmd, `${d.name}: its module registers no command of that name`);
      assert.equal(cmd.description(), d.summary, `${d.name}: cli/commands/index.ts summary differs from the module's .description()`);
    }
  });

  it('finds the command a command line names', () => {
    assert.equal(commandNamed(['pcp', 'check-primary', 'x'])?.name, 'pcp');
    assert.equal(commandNamed(['--help'])?.name, undefined);
    assert.equal(commandNamed(['help', 'status'])?.name, 'status');
    assert.equal(commandNamed(['nope'])?.name, undefined);
  });

  it('an unknown subcommand is invalid input (exit 2) and the help lists every command', async () => {
    await assert.rejects(run(process.execPath, [CLI, 'nope']), (err: { code?: number; stderr?: string }) => err.code === 2 && /unknown command/.test(err.stderr ?? ''));
    const { stdout } = await run(process.execPath, [CLI, '--help']);
    for (const d of COMMANDS) assert.match(stdout, new RegExp(`\\n  ${d.name}\\b`));
  });

  it('runs the plain `pcp check-primary` and `status` lines without commander, and leaves every other form to it', () => {
    assert.deepEqual(fastCommand(['pcp', 'check-primary', '10.0.0.1']), { name: 'check-primary', address: '10.0.0.1', opts: {} });
    assert.deepEqual(fastCommand(['pcp', 'check-primary', '--json', '--config=/c.yaml', '10.0.0.1:5433', '--cluster', 'c1']), {
      name: 'check-primary',
      address: '10.0.0.1:5433',
      opts: { json: true, config: '/c.yaml', cluster: 'c1' },
    });
    assert.deepEqual(fastCommand(['status']), { name: 'status', opts: {} });
    assert.deepEqual(fastCommand(['status', '--check', '--config', '/c.yaml', '--json']), { name: 'status', opts: { check: true, config: '/c.yaml', json: true } });
    for (const args of [
      ['pcp', 'check-primary'],
      ['pcp', 'check-primary', '--help', '10.0.0.1'],
      ['pcp', 'check-primary', '-h'],
      ['pcp', 'check-primary', '10.0.0.1', '10.0.0.2'],
      ['pcp', 'check-primary', '--', '10.0.0.1'],
      ['pcp', 'check-primary', '10.0.0.1', '--config'],
      ['pcp', 'check-primary', '10.0.0.1', '--config', '--json'],
      ['pcp', 'check-primary', '10.0.0.1', '--verbose'],
      ['pcp', 'check-primary', '10.0.0.1', '--check'],
      ['pcp', 'nodes'],
      ['--help', 'pcp', 'check-primary', '10.0.0.1'],
      ['status', 'extra'],
      ['status', '--help'],
      ['status', '--cluster'],
      ['status', '--verbose'],
      ['help', 'status'],
    ])
      assert.equal(fastCommand(args), null, args.join(' '));
  });

  it('`pcpflow pcp check-primary ADDRESS` loads build/check-primary.js alone: no commander chunk, no npm package', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcpflow-trace-'));
    try {
      const trace = join(dir, 'trace');
      const missing = join(dir, 'missing.yaml');
      await assert.rejects(
        run(process.execPath, ['--import', TRACE, CLI, 'pcp', 'check-primary', '10.0.0.1', '--config', missing], { env: { ...process.env, PCPFLOW_MODULE_TRACE: trace } }),
        (err: { code?: number }) => err.code === 2,
      );
      const loaded = readFileSync(trace, 'utf8').split('\n').filter((u) => u.includes('/build/') || u.includes('/node_modules/'));
      // Besides the two, at most esbuild's runtime helpers (a few hundred bytes, shared by main.js).
      const others = loaded.filter((u) => !u.endsWith('/build/main.js') && !u.endsWith('/build/check-primary.js'));
      assert.ok(loaded.some((u) => u.endsWith('/build/check-primary.js')), loaded.join('\n'));
      for (const u of others) assert.ok(u.includes('/build/chunks/') && statSync(new URL(u)).size < 1024, `also loaded ${u}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`status` answers alike on its fast path and through commander (Redis unreachable: one line, exit 4; unknown cluster: exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcpflow-status-'));
    try {
      const config = join(dir, 'c.json');
      writeFileSync(
        config,
        JSON.stringify({
          redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 },
          clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1', port: 1 }], user: 'u' }, backends: [{ address: '127.0.0.1' }] }],
        }),
      );
      const outcome = (args: string[]) =>
        run(process.execPath, [CLI, ...args]).then(
          (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
          (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
        );
      for (const extra of [[], ['--check'], ['--json'], ['--cluster', 'nope']]) {
        const fast = await outcome(['status', '--config', config, ...extra]);
        const slow = await outcome(['status', '--config', config, ...extra, '--']);
        assert.deepEqual(fast, slow, extra.join(' '));
        assert.equal(fast.code, extra[0] === '--cluster' ? 2 : 4, fast.stderr);
        assert.equal(fast.stderr?.trim().split('\n').length, 1, fast.stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
