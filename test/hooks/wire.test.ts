import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema } from '../../contracts/config.ts';
import { INTAKE_EVENT_FIELD, INTAKE_REJECTION_FIELD, keys } from '../../contracts/keys.ts';
import { applyEnv, HookConfigSchema } from '../../hooks/config.ts';
import * as wire from '../../hooks/wire.ts';
import { parse as hookYaml } from '../../hooks/yaml-entry.ts';
import { ROOT } from './support.ts';

/** The hook repeats a few contract details to stay fast; these tests keep the copies honest. */
describe('hook copies of contract details', () => {
  it('key names and stream fields equal contracts/keys.ts', () => {
    for (const [p, c, id] of [
      ['{pcpflow}', 'c1', 'e-1'],
      ['{x.y}', 'a_b-c', 'abcdefgh'],
    ] as const) {
      assert.equal(wire.hookKeys.intake(p, c), keys.intake(p, c));
      assert.equal(wire.hookKeys.eventResult(p, c, id), keys.eventResult(p, c, id));
      assert.equal(wire.hookKeys.actionResult(p, c, id), keys.actionResult(p, c, id));
      assert.equal(wire.hookKeys.delivered(p, c, id), keys.delivered(p, c, id));
    }
    assert.equal(wire.INTAKE_EVENT_FIELD, INTAKE_EVENT_FIELD);
    assert.equal(wire.INTAKE_REJECTION_FIELD, INTAKE_REJECTION_FIELD);
  });

  const minimal = {
    clusters: [
      {
        name: 'c1',
        pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'u' },
        backends: [{ address: '10.0.0.1' }],
      },
    ],
  };
  const full = {
    redis: {
      url: 'rediss://r:6380/2',
      keyPrefix: '{pf}',
      username: 'hook',
      password: { env: 'RPW' },
      tls: { caFile: '/ca' },
      publishTimeoutMs: 300,
    },
    outbox: { dir: '/srv/outbox' },
    clusters: [{ ...minimal.clusters[0], fence: { mode: 'fail-closed', timeoutMs: 5000 } }],
  };

  it("defaults and the fields the hook reads equal ConfigSchema's", () => {
    for (const raw of [minimal, full]) {
      for (const env of [{}, { PCPFLOW_REDIS_URL: 'redis://other:1', PCPFLOW_OUTBOX_DIR: '/o' }]) {
        const mine = HookConfigSchema.parse(applyEnv(raw, env));
        const theirs = ConfigSchema.parse(applyEnv(raw, env));
        assert.deepEqual(mine.redis, theirs.redis);
        assert.deepEqual(mine.outbox, theirs.outbox);
        assert.deepEqual(
          mine.clusters.map((c) => [c.name, c.fence.mode, c.fence.timeoutMs]),
          theirs.clusters.map((c) => [c.name, c.fence.mode, c.fence.timeoutMs]),
        );
      }
    }
  });

  it("the hook's YAML parser reads config files as the CLI's does", () => {
    const samples = [
      'redis:\n  url: redis://127.0.0.1:6379\n  publishTimeoutMs: 800\noutbox: { dir: /var/spool/pcpflow }\nclusters:\n  - name: c1\n    fence: { mode: fail-closed, timeoutMs: 10000 }\n',
      "clusters:\n  - name: '007'\n    enabled: yes\n    when: 2001-12-14\n    n: 0x10\n    f: .5\n    nothing: ~\n",
    ];
    const found = [ROOT, join(ROOT, 'deploy')].flatMap((d) =>
      readdirSync(d)
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => readFileSync(join(d, f), 'utf8')),
    );
    assert.ok(found.length > 0, 'no sample config found');
    for (const text of [...samples, ...found]) assert.deepEqual(hookYaml(text), parseYaml(text));
  });
});
