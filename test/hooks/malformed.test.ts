import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IntakeRejectionSchema } from '../../contracts/keys.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { readIntake, runHook, sandbox, type Sandbox } from './support.ts';

type Arg = string | { repeat: string; times: number };
interface Case {
  name: string;
  args: Arg[];
  stderr: string;
  env?: Record<string, string>;
  cluster?: string;
  config?: 'missing' | 'broken-yaml' | 'broken-json' | 'no-clusters' | 'bad-url';
}

const corpus = JSON.parse(readFileSync(join(import.meta.dirname, 'malformed-corpus.json'), 'utf8')) as {
  cases: Case[];
};

describe('malformed invocations exit 2, say why, and publish no event', () => {
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
      assert.equal(run.code, 2, `exit ${run.code}; stderr: ${run.stderr}`);
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
