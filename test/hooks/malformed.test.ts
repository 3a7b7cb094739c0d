import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IntakeRejectionSchema } from '../../contracts/keys.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';
import { readIntake, runHook, sandbox, type Sandbox } from '../../testkit/hooks.ts';

type Arg = string | { repeat: string; times: number };
interface Case {
  name: string;
  args: Arg[];
  stderr: string;
  env?: Record<string, string>;
  cluster?: string;
  config?: string;
  /** Default 2; the fence applies its policy instead (fail-open 0, fail-closed 3). */
  exit?: number;
}

const corpus = JSON.parse(readFileSync(join(import.meta.dirname, 'malformed-corpus.json'), 'utf8')) as {
  cases: Case[];
};

describe('malformed invocations exit 2 (a fence: its policy), say why in one line, and publish no event', () => {
  let redis: TestRedis;
  let box: Sandbox;
  const configs: Record<string, string> = {};
  before(async () => {
    redis = await startRedis();
    box = sandbox();
    box.writeConfig({ redisUrl: redis.url });
    configs['missing'] = join(box.dir, 'does-not-exist.yaml');
    configs['broken-yaml'] = join(box.dir, 'broken.yaml');
    writeFileSync(configs['broken-yaml'], 'redis:\n  url: [unclosed\nclusters: {\n');
    configs['broken-json'] = join(box.dir, 'broken.json');
    writeFileSync(configs['broken-json'], '{"clusters": [');
    configs['no-clusters'] = join(box.dir, 'no-clusters.json');
    writeFileSync(configs['no-clusters'], JSON.stringify({ redis: { url: redis.url }, clusters: [] }));
    const variant = (name: string, mutate: (c: ReturnType<typeof baseConfig>) => void) => {
      const c = baseConfig();
      mutate(c);
      configs[name] = join(box.dir, `${name}.json`);
      writeFileSync(configs[name], JSON.stringify(c));
    };
    const baseConfig = () => ({
      redis: { url: redis.url } as Record<string, unknown>,
      outbox: { dir: box.outbox },
      clusters: [
        {
          name: 'c1',
          pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'pcpadmin' },
          backends: [{ address: '10.0.0.1' }, { address: '10.0.0.2' }] as Record<string, unknown>[],
        } as Record<string, unknown>,
      ],
    });
    variant('fail-closed', (c) => (c.clusters[0]!.fence = { mode: 'fail-closed', timeoutMs: 300 }));
    variant('shared-host', (c) => (c.clusters[0]!.backends = [{ address: '10.0.0.1' }, { address: '10.0.0.1', port: 5433 }, { address: '10.0.0.2' }]));
    variant('shared-host-closed', (c) => {
      c.clusters[0]!.backends = [{ address: '10.0.0.1' }, { address: '10.0.0.1', port: 5433 }, { address: '10.0.0.2' }];
      c.clusters[0]!.fence = { mode: 'fail-closed', timeoutMs: 300 };
    });
    variant('unknown-key', (c) => (c.clusters[0]!.fense = { mode: 'fail-closed' }));
    variant('empty-password', (c) => (c.redis.password = { env: 'PCPFLOW_TEST_EMPTY_PW' }));
    variant('bad-timeout', (c) => (c.clusters[0]!.timeouts = { readMs: -5 }));
    configs['dev-zero'] = '/dev/zero';
    configs['fifo'] = join(box.dir, 'config.fifo');
    execFileSync('mkfifo', [configs['fifo']]);
    configs['too-big'] = join(box.dir, 'too-big.yaml');
    writeFileSync(configs['too-big'], `# ${'x'.repeat(5_000_000 - 3)}\n`);
    configs['directory'] = box.dir;
    configs['bad-url'] = join(box.dir, 'bad-url.json');
    writeFileSync(
      configs['bad-url'],
      JSON.stringify({ redis: { url: 'http://x' }, clusters: [{ name: 'c1' }] }),
    );
  });
  after(async () => {
    await redis.stop();
    box.cleanup();
  });

  it('has a corpus of at least 50 cases', () => assert.ok(corpus.cases.length >= 50));

  for (const c of corpus.cases) {
    it(c.name, async () => {
      const argv = c.args.map((a) => (typeof a === 'string' ? a : a.repeat.repeat(a.times)));
      const config = c.config ? configs[c.config] : box.configPath;
      assert.ok(config);
      const flags = ['--config', config, ...(c.cluster ? ['--cluster', c.cluster] : [])];
      const run = await runHook([...flags, ...argv], c.env ?? {});
      assert.equal(run.code, c.exit ?? 2, `exit ${run.code}; stderr: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(c.stderr), run.stderr);
      assert.equal(run.stderr.trim().split('\n').length, 1, 'one clear line');
      assert.ok(run.stderr.length < 1500, 'message is bounded even for 10 kB input');
      const intake = await readIntake(redis.url, 'c1');
      assert.equal(intake.filter((e) => e.field === 'event').length, 0, 'no event published');
    });
  }

  it('audits refused invocations as IntakeRejection when config, cluster and Redis are known', async () => {
    const rejected = (await readIntake(redis.url, 'c1')).filter((e) => e.field === 'rejected');
    assert.ok(rejected.length >= 40);
    for (const r of rejected) {
      const rec = IntakeRejectionSchema.parse(JSON.parse(r.value));
      assert.equal(rec.cluster, 'c1');
    }
    assert.ok(rejected.some((r) => r.value.includes('shell metacharacter')));
  });
});
