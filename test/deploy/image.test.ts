import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validate } from 'dockerfile-utils';
import { parse } from 'yaml';
import { ConfigSchema } from '../../contracts/config.ts';

/**
 * The worker image and the compose fleet, checked without a container engine (none runs on the
 * development machines or CI): the Dockerfile is linted (dockerfile-utils, the validator of the
 * Dockerfile language server; hadolint is on neither npm nor Debian) and its structure checked;
 * the compose file is resolved by Debian's docker-compose.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions per stage, continuation lines joined, comments dropped. */
function stages(text: string): Array<{ from: string; name: string | undefined; instructions: Instruction[] }> {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out: Array<{ from: string; name: string | undefined; instructions: Instruction[] }> = [];
  const args = new Map<string, string>();
  for (const line of lines) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const k = keyword.toUpperCase();
    const a = rest.join(' ');
    if (k === 'ARG' && out.length === 0) {
      const [name, value] = a.split('=');
      if (name && value) args.set(name, value);
    }
    if (k === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(a);
      const image = (m?.[1] ?? '').replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? '');
      out.push({ from: image, name: m?.[2], instructions: [] });
    } else out.at(-1)?.instructions.push({ keyword: k, args: a });
  }
  return out;
}

describe('Dockerfile', () => {
  it('passes the Dockerfile linter (and the linter does find problems)', () => {
    const problems = validate(dockerfile).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    assert.deepEqual(problems, []);
    assert.ok(validate('FROM node:20\nRUNN echo\nEXPOSE port\n').length > 0, 'the linter reports a broken Dockerfile');
  });

  const all = stages(dockerfile);
  const runtime = all.at(-1);
  const has = (k: string) => runtime?.instructions.filter((i) => i.keyword === k) ?? [];

  it('is multi-stage and runs on a slim Node 20 image', () => {
    assert.ok(all.length >= 2, 'a build stage and a runtime stage');
    assert.match(runtime?.from ?? '', /^node:20[-.\w]*slim$/, `runtime stage FROM ${runtime?.from}`);
    assert.ok(all.some((s) => s.instructions.some((i) => i.keyword === 'RUN' && /scripts\/build\.ts|npm run build/.test(i.args))), 'a stage builds the JavaScript');
  });

  it('ships production dependencies only and no sources', () => {
    const copies = has('COPY').map((i) => i.args);
    const nm = copies.find((c) => /node_modules/.test(c));
    const from = /--from=(\S+)/.exec(nm ?? '')?.[1];
    const depsStage = all.find((s) => s.name === from);
    assert.ok(depsStage?.instructions.some((i) => i.keyword === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args)), `node_modules comes from a stage that ran npm ci --omit=dev (${from})`);
    for (const c of copies) assert.doesNotMatch(c, /^\.\s|\s\.\s|(^|\/)(contracts|machines|test|bench|lab)(\s|\/)/, `runtime copies no sources: COPY ${c}`);
    assert.ok(!has('RUN').some((i) => /npm (i|install|ci)\b/.test(i.args)), 'no npm install in the runtime stage');
  });

  it('runs as a non-root user, health-checks /readyz, carries OCI labels', () => {
    const user = has('USER').at(-1)?.args ?? 'root';
    assert.ok(!/^(root|0)(:|$)/.test(user), `USER ${user}`);
    assert.match(has('HEALTHCHECK').at(-1)?.args ?? '', /\/readyz/);
    const labels = has('LABEL').map((i) => i.args).join(' ');
    for (const l of ['title', 'description', 'version', 'licenses']) assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${l}=`));
    assert.match(labels, /licenses="Apache-2.0"/);
    assert.match(has('ENTRYPOINT').at(-1)?.args ?? '', /bin\/pcpflow\.js/);
  });

  it('.dockerignore keeps node_modules, build output and secrets out of the context', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'build', 'secrets', '.git']) assert.ok(ignore.includes(p), `.dockerignore lists ${p}`);
  });
});

describe('docker-compose.yml', () => {
  const r = spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config'], { encoding: 'utf8' });
  const skip = r.error ? 'docker-compose is not installed' : false;

  it("is valid for Debian's docker-compose and builds the worker from the Dockerfile", { skip }, () => {
    assert.equal(r.status, 0, r.stderr);
    const c = parse(r.stdout) as {
      services: Record<string, { build?: { context?: string; dockerfile?: string }; image?: string; restart?: string; secrets?: Array<{ source: string; target: string; uid?: string; gid?: string; mode?: number }>; volumes?: unknown[] }>;
      secrets?: Record<string, { file?: string }>;
    };
    const worker = c.services.worker;
    assert.equal(worker?.build?.dockerfile, 'Dockerfile');
    assert.equal(worker?.build?.context, ROOT);
    for (const [name, s] of Object.entries(c.services)) assert.match(s.restart ?? '', /^(always|unless-stopped|on-failure)/, `${name} has a restart policy`);
    const secret = worker?.secrets?.find((s) => s.source === 'pcppass');
    assert.ok(secret, 'the passfile is a compose secret');
    assert.equal(secret.uid, '10001', 'owned by the image user');
    assert.equal(secret.gid, '10001');
    assert.equal(secret.mode, 0o400, 'mode 0400: pgpool and pcpflow refuse a group- or world-readable passfile');
    assert.ok(c.secrets?.pcppass?.file, 'read from a file');
    assert.ok(!JSON.stringify(worker?.volumes ?? []).includes('pcppass'), 'the passfile is not bind-mounted');
    assert.ok(!JSON.stringify(worker?.volumes ?? []).includes(`${ROOT}:`), 'the source tree is not mounted');
  });

  it("the image's uid matches the secret's owner, and the compose config keeps the console on loopback", () => {
    assert.match(dockerfile, /useradd[^\n]*--uid 10001/);
    const cfg = parse(readFileSync(join(ROOT, 'deploy', 'docker', 'pcpflow.yaml'), 'utf8')) as { http?: { host?: string; token?: unknown }; clusters: Array<{ pcp: { passfile?: string } }> };
    assert.ok(cfg.http?.host === '127.0.0.1' || cfg.http?.token !== undefined, 'loopback, or a token');
    assert.equal(cfg.clusters[0]?.pcp.passfile, '/run/secrets/pcppass');
    const parsed = ConfigSchema.safeParse(cfg);
    assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
  });
});

describe('the image, where a container engine runs', () => {
  const engine = spawnSync('docker', ['info'], { encoding: 'utf8' });
  const skip = engine.status === 0 ? false : 'no container engine answers `docker info` on this machine (see README Install)';

  it('builds, runs `pcpflow --help` as uid 10001, and carries the labels', { skip, timeout: 900_000 }, () => {
    const tag = `pcpflow:test-${process.pid}`;
    try {
      const b = spawnSync('docker', ['build', '-t', tag, ROOT], { encoding: 'utf8' });
      assert.equal(b.status, 0, b.stderr);
      const help = spawnSync('docker', ['run', '--rm', tag, '--help'], { encoding: 'utf8' });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /^Usage: pcpflow/m);
      const id = spawnSync('docker', ['run', '--rm', '--entrypoint', 'id', tag, '-u'], { encoding: 'utf8' });
      assert.equal(id.stdout.trim(), '10001');
      const labels = spawnSync('docker', ['image', 'inspect', '-f', '{{json .Config.Labels}}', tag], { encoding: 'utf8' });
      assert.match(labels.stdout, /org\.opencontainers\.image\.licenses/);
    } finally {
      spawnSync('docker', ['image', 'rm', '-f', tag]);
    }
  });
});
