import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { AuditBody } from '../../contracts/audit.ts';
import { keys } from '../../contracts/keys.ts';
import { describeProblem } from '../../audit/chain.ts';
import { AuditStore } from '../../audit/store.ts';
import { startRedis, type TestRedis } from '../../testkit/redis.ts';

let server: TestRedis;
let redis: Redis;
const prefix = '{t}';

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

function body(i: number, backend = '127.0.0.11:5432'): AuditBody {
  return { kind: 'decision', cluster: 'c1', at: new Date(Date.UTC(2026, 10, 25, 0, 0, i)).toISOString(), backend, from: 'up', to: 'detached', note: `record ${i}` };
}

test('concurrent appenders build one unbroken chain', async () => {
  const store = new AuditStore(redis, prefix);
  const others = [new Redis(server.url), new Redis(server.url), new Redis(server.url)];
  try {
    await Promise.all(others.map((r, w) => Promise.all(Array.from({ length: 20 }, (_, i) => new AuditStore(r, prefix).append('c1', [body(w * 100 + i)])))));
    const v = await store.verify('c1');
    assert.equal(v.checked, 60);
    assert.deepEqual(v.problems, []);
    assert.equal((await store.head('c1')).seq, 60);
  } finally {
    for (const r of others) r.disconnect();
  }
});

test('--verify names an edited record and a deleted one', async () => {
  const store = new AuditStore(redis, prefix);
  await store.append('c2', [1, 2, 3, 4, 5].map((i) => body(i)));
  const entries = await redis.xrange(keys.audit(prefix, 'c2'), '-', '+');
  // A stream cannot be edited in place: tampering means rewriting it. Edit seq 2, drop seq 4.
  await redis.del(keys.audit(prefix, 'c2'));
  for (const [i, [, fields]] of entries.entries()) {
    if (i === 3) continue;
    const rec = JSON.parse(fields[1] ?? '{}') as Record<string, unknown>;
    if (i === 1) rec.note = 'nothing happened here';
    await redis.xadd(keys.audit(prefix, 'c2'), '*', 'r', JSON.stringify(rec));
  }
  const v = await store.verify('c2');
  assert.equal(v.ok, false);
  const text = v.problems.map(describeProblem);
  assert.ok(text.some((t) => t.includes('seq 2') && t.includes('altered')), text.join('\n'));
  assert.ok(text.some((t) => t.includes('seq 4 is missing')), text.join('\n'));
});

test('query filters by backend and since', async () => {
  const store = new AuditStore(redis, prefix);
  await store.append('c3', [body(1, '127.0.0.11:5432'), body(2, '127.0.0.12:5432'), body(3, '127.0.0.11:5432')]);
  const rows = await store.query('c3', { backend: '127.0.0.12:5432' });
  assert.deepEqual(rows.map((r) => r.record.note), ['record 2']);
  assert.equal((await store.query('c3', { since: new Date(Date.now() + 60_000) })).length, 0);
  assert.equal((await store.query('c3', { limit: 2 })).length, 2);
});
