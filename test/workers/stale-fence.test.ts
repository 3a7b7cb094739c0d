import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ConfigSchema } from '../../contracts/config.ts';
import { parseHookArgv } from '../../hooks/argv.ts';
import { staleFence } from '../../workers/decider.ts';

const cluster = (mode: 'fail-open' | 'fail-closed') =>
  ConfigSchema.parse({
    clusters: [{ name: 'c1', pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'u' }, backends: [{ address: '127.0.0.11' }], fence: { mode, timeoutMs: 10_000 } }],
  }).clusters[0]!;

const observed = new Date('2026-11-25T22:00:00Z');
const fence = parseHookArgv(['efm', 'fence', '127.0.0.12', '127.0.0.11'], { cluster: 'c1', now: observed, newId: () => 'fence-event-0001' });

test('a fail-closed fence decided after its timeout is left alone; in time, or fail-open, it is decided', () => {
  assert.match(staleFence(cluster('fail-closed'), fence, new Date(observed.getTime() + 60_000)) ?? '', /vetoed the promotion/);
  assert.equal(staleFence(cluster('fail-closed'), fence, new Date(observed.getTime() + 5_000)), null);
  assert.equal(staleFence(cluster('fail-open'), fence, new Date(observed.getTime() + 60_000)), null);
});
