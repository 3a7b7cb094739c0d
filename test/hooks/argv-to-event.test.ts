import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AddressTextSchema } from '../../contracts/address.ts';
import { InvalidInputError } from '../../contracts/errors.ts';
import { MAX_ARG_LENGTH, MAX_ARGV, NodeEventSchema } from '../../contracts/events.ts';
import * as args from '../../hooks/argument-checks.ts';
import { parseHookArgv, type HookContext } from '../../hooks/argv-to-event.ts';

let n = 0;
const ctx = (over: Partial<HookContext> = {}): HookContext => ({
  cluster: 'c1',
  now: new Date('2026-01-02T03:04:05.000Z'),
  newId: () => `evt-${String(++n).padStart(8, '0')}`,
  ...over,
});

/** Every event must be exactly what the worker's schema yields for it: one wire format. */
function parseChecked(argv: string[], c: HookContext = ctx()) {
  const ev = parseHookArgv(argv, c);
  assert.deepEqual(NodeEventSchema.parse(ev), ev);
  return ev;
}

const PGPOOL = [
  'pgpool',
  'follow-primary',
  ' 1',
  'db1',
  ' 5432',
  '/pg/data',
  ' 0',
  'db0',
  ' 0',
  ' 0',
  ' 5432',
  '/pg/data',
  'db0',
  ' 5432',
];

describe('parseHookArgv', () => {
  it('keeps its limits equal to the contract', () => {
    assert.equal(args.MAX_ARG_LENGTH, MAX_ARG_LENGTH);
    assert.equal(args.MAX_ARGV, MAX_ARGV);
  });

  it('efm attach/detach: address and p|m|s (m is EFM 3.x for primary)', () => {
    const a = parseChecked(['efm', 'attach', '10.0.0.1', 's']);
    assert.equal(a.type, 'efm.attach');
    assert.equal(a.backend, '10.0.0.1');
    assert.equal(a.type === 'efm.attach' && a.nodeType, 'standby');
    const d = parseChecked(['efm', 'detach', 'db1.example.com:5444', 'm']);
    assert.equal(d.type === 'efm.detach' && d.nodeType, 'primary');
    assert.equal(d.backend, 'db1.example.com:5444');
    const p = parseChecked(['efm', 'attach', '[fe80::1]:5432', 'p']);
    assert.equal(p.backend, '[fe80::1]:5432');
  });

  it('efm fence/post-promotion: %f may be empty or absent', () => {
    for (const hook of ['fence', 'post-promotion']) {
      for (const tail of [[], [''], ['""']]) {
        const ev = parseChecked(['efm', hook, '10.0.0.2', ...tail]);
        assert.ok(ev.type === 'efm.fence' || ev.type === 'efm.post-promotion');
        assert.equal(ev.newPrimary, '10.0.0.2');
        assert.equal(ev.failedPrimary, null);
      }
      const ev = parseChecked(['efm', hook, '10.0.0.2', '10.0.0.1']);
      assert.ok(
        (ev.type === 'efm.fence' || ev.type === 'efm.post-promotion') && ev.failedPrimary === '10.0.0.1',
      );
    }
  });

  it('efm remote pre/post promotion', () => {
    assert.equal(parseChecked(['efm', 'remote-pre-promotion', '10.0.0.2']).type, 'efm.remote-pre-promotion');
    const ev = parseChecked(['efm', 'remote-post-promotion', '10.0.0.2']);
    assert.ok(ev.type === 'efm.remote-post-promotion' && ev.newPrimary === '10.0.0.2');
  });

  it('efm resumed/db-failure/primary-isolated: backend is the local node when known', () => {
    assert.equal(parseChecked(['efm', 'resumed'], ctx({ localNode: '10.0.0.3' })).backend, '10.0.0.3');
    assert.equal(parseChecked(['efm', 'db-failure']).backend, null);
    assert.equal(parseChecked(['efm', 'master-isolated']).type, 'efm.primary-isolated');
    assert.equal(parseChecked(['efm', 'primary-isolated'], ctx({ localNode: 'db3' })).backend, 'db3');
    assert.throws(() => parseHookArgv(['efm', 'resumed'], ctx({ localNode: 'x;y' })), /--node/);
  });

  it('efm notification keeps prose, newlines included', () => {
    const ev = parseChecked([
      'efm',
      'notification',
      'EFM: node down',
      'Node 10.0.0.1 failed.\nScript exit: 1 (see log); retrying',
    ]);
    assert.ok(ev.type === 'efm.notification' && ev.body.includes('\n'));
  });

  it('pgpool follow-primary: leading spaces, "" and -1', () => {
    const ev = parseChecked(PGPOOL);
    assert.ok(ev.type === 'pgpool.follow-primary');
    assert.equal(ev.nodeId, 1);
    assert.equal(ev.backend, 'db1:5432');
    assert.equal(ev.newPrimaryId, 0);
    const none = parseChecked([
      'pgpool',
      'follow-master',
      '2',
      'db2',
      '5432',
      '""',
      '-1',
      '""',
      '-1',
      '-1',
      '-1',
      '""',
      '""',
      '-1',
    ]);
    assert.ok(none.type === 'pgpool.follow-primary');
    assert.deepEqual(
      [
        none.newPrimaryId,
        none.newPrimaryHost,
        none.oldMainId,
        none.oldPrimaryId,
        none.newPrimaryPort,
        none.newPrimaryDataDir,
        none.oldPrimaryHost,
        none.oldPrimaryPort,
        none.dataDir,
      ],
      [null, null, null, null, null, null, null, null, ''],
    );
  });

  it('operator rebuild events', () => {
    assert.equal(parseChecked(['event', 'rebuild-started', '10.0.0.1']).source, 'operator');
    assert.equal(parseChecked(['event', 'rebuild-done', '10.0.0.1']).type, 'operator.rebuild-done');
  });

  it('records argv, time and id from the context only (pure)', () => {
    const a = parseHookArgv(['efm', 'attach', '10.0.0.1', 's'], ctx({ newId: () => 'fixed-id-1' }));
    const b = parseHookArgv(['efm', 'attach', '10.0.0.1', 's'], ctx({ newId: () => 'fixed-id-1' }));
    assert.deepEqual(a, b);
    assert.equal(a.observedAt, '2026-01-02T03:04:05.000Z');
    assert.deepEqual(a.argv, ['efm', 'attach', '10.0.0.1', 's']);
  });

  it('throws InvalidInputError (exit 2) naming the argument', () => {
    const err = (() => {
      try {
        parseHookArgv(['efm', 'attach', '10.0.0.1', 'x'], ctx());
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof InvalidInputError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /argument 4 \(%t, node type\)/);
  });

  it('canonical addresses are exactly what the contract schema yields', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV4(),
          fc.domain(),
          fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
        ),
        (addr) => {
          const ev = parseHookArgv(['efm', 'attach', addr, 's'], ctx());
          assert.equal(ev.backend, AddressTextSchema.parse(addr));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('dedupeKey', () => {
  it('the same event from two EFM agents, at different times, gets the same key', () => {
    const agentA = parseHookArgv(
      ['efm', 'detach', '10.0.0.1', 'p'],
      ctx({ now: new Date('2026-01-01T00:00:00Z'), localNode: '10.0.0.2' }),
    );
    const agentB = parseHookArgv(
      ['efm', 'detach', '10.0.0.1', 'm'],
      ctx({ now: new Date('2026-01-01T00:00:03Z'), localNode: '10.0.0.3' }),
    );
    assert.notEqual(agentA.eventId, agentB.eventId);
    assert.equal(agentA.dedupeKey, agentB.dedupeKey);
    const hostCase = parseHookArgv(['efm', 'detach', 'DB1.Example.com', 'p'], ctx());
    const lower = parseHookArgv(['efm', 'detach', 'db1.example.com', 'p'], ctx());
    assert.equal(hostCase.dedupeKey, lower.dedupeKey);
    const f1 = parseHookArgv(['efm', 'fence', '10.0.0.2'], ctx());
    const f2 = parseHookArgv(['efm', 'fence', '10.0.0.2', ''], ctx({ now: new Date() }));
    assert.equal(f1.dedupeKey, f2.dedupeKey);
  });

  it('different events, clusters or subjects get different keys', () => {
    const keys = new Set([
      parseHookArgv(['efm', 'detach', '10.0.0.1', 'p'], ctx()).dedupeKey,
      parseHookArgv(['efm', 'attach', '10.0.0.1', 'p'], ctx()).dedupeKey,
      parseHookArgv(['efm', 'detach', '10.0.0.2', 'p'], ctx()).dedupeKey,
      parseHookArgv(['efm', 'detach', '10.0.0.1', 's'], ctx()).dedupeKey,
      parseHookArgv(['efm', 'detach', '10.0.0.1', 'p'], ctx({ cluster: 'c2' })).dedupeKey,
      parseHookArgv(['efm', 'db-failure'], ctx()).dedupeKey,
      parseHookArgv(['efm', 'db-failure'], ctx()).dedupeKey, // unknown node: never merged
    ]);
    assert.equal(keys.size, 7);
  });

  it('stays within the contract length for long prose', () => {
    const ev = parseChecked(['efm', 'notification', 's'.repeat(4000), 'b'.repeat(4000)]);
    assert.ok(ev.dedupeKey.length <= 512);
  });
});
