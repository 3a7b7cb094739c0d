import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigSchema } from '../../contracts/config.ts';
import { loadConfig, selectCluster } from '../../runtime/config.ts';
import { ConfigError } from '../../runtime/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'pcpflow-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const passfile = join(dir, '.pcppass');
writeFileSync(passfile, '127.0.0.1:9898:pcpadmin:s3cretpw\n', { mode: 0o600 });

const valid = {
  redis: { url: 'redis://127.0.0.1:6379', keyPrefix: '{pcpflow}' },
  clusters: [
    {
      name: 'prod-1',
      pcp: { endpoints: [{ host: '127.0.0.1', port: 9898 }, { host: 'pgpool-2.example.com' }], user: 'pcpadmin', passfile },
      backends: [{ address: '127.0.0.11' }, { address: '127.0.0.12', port: 5433, nodeId: 1 }],
      fence: { mode: 'fail-closed', timeoutMs: 5000 },
      notificationCommand: ['/usr/local/bin/notify', '--team', 'dba'],
    },
  ],
};

function write(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

test('a valid config parses and fills defaults', () => {
  const cfg = ConfigSchema.parse(valid);
  const c = cfg.clusters[0];
  assert.ok(c);
  assert.equal(c.backends[0]?.port, 5432);
  assert.equal(c.pcp.endpoints[1]?.port, 9898);
  assert.equal(c.retry.attempts, 8);
  assert.equal(c.fence.mode, 'fail-closed');
  assert.equal(cfg.http.port, 9464);
});

test('YAML and JSON files load; env overrides redis url and http port', () => {
  const json = write('c.json', JSON.stringify(valid));
  const yaml = write('c.yaml', `clusters:\n  - name: lab\n    pcp: { endpoints: [{ host: 127.0.0.1 }], user: u }\n    backends: [{ address: 127.0.0.11 }]\n`);
  assert.equal(loadConfig(json, {}).config.clusters[0]?.name, 'prod-1');
  const env = { PCPFLOW_REDIS_URL: 'redis://127.0.0.2:7000', PCPFLOW_HTTP_PORT: '8123' };
  const loaded = loadConfig(yaml, env).config;
  assert.equal(loaded.redis.url, 'redis://127.0.0.2:7000');
  assert.equal(loaded.http.port, 8123);
  assert.equal(loadConfig(undefined, { PCPFLOW_CONFIG: yaml }).path, yaml);
});

function problemsOf(path: string): string[] {
  try {
    loadConfig(path, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.exitCode, 2);
    return [...err.problems];
  }
  assert.fail('expected a ConfigError');
}

test('every problem is reported with its path, one line each', () => {
  const bad = structuredClone(valid) as Record<string, unknown> & typeof valid;
  (bad.clusters[0] as Record<string, unknown>).backends = [{ address: '127.0.0.11', port: 'x' }, { address: 'bad host;rm -rf' }];
  (bad.clusters[0] as Record<string, unknown>).colour = 'blue';
  (bad.redis as Record<string, unknown>).keyPrefix = 'nohashtag';
  const problems = problemsOf(write('bad.json', JSON.stringify(bad)));
  assert.ok(problems.some((p) => p.includes('clusters.0.backends.0.port')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('clusters.0.backends.1.address')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('clusters.0') && p.includes('colour')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('redis.keyPrefix')), problems.join('\n'));
});

test('missing cluster, unreadable file, broken YAML and a passfile not 0600 are clear errors', () => {
  assert.ok(problemsOf(write('none.json', JSON.stringify({ clusters: [] })))[0]?.includes('at least one cluster'));
  assert.ok(problemsOf(join(dir, 'missing.yaml'))[0]?.includes('cannot read'));
  assert.ok(problemsOf(write('broken.yaml', 'clusters: [\n'))[0]?.includes('not valid YAML'));
  chmodSync(passfile, 0o644);
  try {
    const problems = problemsOf(write('perm.json', JSON.stringify(valid)));
    assert.ok(problems[0]?.includes('chmod 600'), problems.join('\n'));
    assert.ok(!problems.join('\n').includes('s3cretpw'));
  } finally {
    chmodSync(passfile, 0o600);
  }
  const unreadable = structuredClone(valid);
  unreadable.clusters[0]!.pcp.passfile = join(dir, 'no-such-passfile');
  assert.ok(problemsOf(write('unread.json', JSON.stringify(unreadable)))[0]?.includes('not readable'));
});

test('selectCluster picks by flag or env and names the configured ones otherwise', () => {
  const cfg = ConfigSchema.parse({ clusters: [valid.clusters[0], { ...valid.clusters[0], name: 'prod-2' }] });
  assert.equal(selectCluster(cfg, 'prod-2').name, 'prod-2');
  assert.equal(selectCluster(cfg, undefined, { PCPFLOW_CLUSTER: 'prod-1' }).name, 'prod-1');
  assert.throws(() => selectCluster(cfg, 'nope', {}), /unknown cluster "nope"; configured: prod-1, prod-2/);
  assert.throws(() => selectCluster(cfg, undefined, {}), /choose one with --cluster/);
});
