import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ActionSchema } from '../../contracts/actions.ts';
import { AuditRecordSchema } from '../../contracts/audit.ts';
import { NODE_EVENT_TYPES, NodeEventSchema } from '../../contracts/events.ts';

const base = {
  eventId: '2f1d2c3e-0000-4000-8000-000000000001',
  dedupeKey: 'k',
  cluster: 'prod-1',
  backend: '127.0.0.13',
  observedAt: '2026-11-25T22:00:00.000Z',
  argv: ['efm', 'detach', '127.0.0.13', 's'],
};

/** One valid sample per variant, and for each a way to break it that the schema must refuse. */
const samples: Record<string, { valid: Record<string, unknown>; broken: Record<string, unknown> }> = {
  'efm.attach': { valid: { source: 'efm', nodeType: 'standby' }, broken: { source: 'efm', nodeType: 'm' } },
  'efm.detach': { valid: { source: 'efm', nodeType: 'primary' }, broken: { source: 'efm' } },
  'efm.post-promotion': {
    valid: { source: 'efm', newPrimary: '127.0.0.12', failedPrimary: null },
    broken: { source: 'efm', newPrimary: '127.0.0.12;reboot', failedPrimary: null },
  },
  'efm.fence': { valid: { source: 'efm', newPrimary: '127.0.0.12', failedPrimary: '127.0.0.11:5432' }, broken: { source: 'efm', newPrimary: '' , failedPrimary: null } },
  'efm.remote-pre-promotion': { valid: { source: 'efm', newPrimary: 'db2.example.com' }, broken: { source: 'efm', newPrimary: 'db 2' } },
  'efm.remote-post-promotion': { valid: { source: 'efm', newPrimary: '[::1]:5432' }, broken: { source: 'efm' } },
  'efm.resumed': { valid: { source: 'efm' }, broken: { source: 'nobody' } },
  'efm.db-failure': { valid: { source: 'efm', backend: null }, broken: { source: 'efm', backend: '$(id)' } },
  'efm.primary-isolated': { valid: { source: 'efm' }, broken: { source: 'efm', extra: 1 } },
  'efm.notification': { valid: { source: 'efm', subject: 's', body: 'b' }, broken: { source: 'efm', subject: 's', body: 'x'.repeat(5000) } },
  'pgpool.follow-primary': {
    valid: {
      source: 'pgpool', nodeId: 2, host: '127.0.0.13', port: 5432, dataDir: '/data', newPrimaryId: 1, newPrimaryHost: '127.0.0.12',
      oldMainId: 0, oldPrimaryId: 0, newPrimaryPort: 5432, newPrimaryDataDir: '/data', oldPrimaryHost: null, oldPrimaryPort: null,
    },
    broken: {
      source: 'pgpool', nodeId: -1, host: '127.0.0.13', port: 5432, dataDir: '/data', newPrimaryId: 1, newPrimaryHost: '127.0.0.12',
      oldMainId: 0, oldPrimaryId: 0, newPrimaryPort: 5432, newPrimaryDataDir: '/data', oldPrimaryHost: null, oldPrimaryPort: null,
    },
  },
  'operator.rebuild-started': { valid: { source: 'operator' }, broken: { source: 'operator', eventId: 'short' } },
  'operator.rebuild-done': { valid: { source: 'operator' }, broken: { source: 'operator', observedAt: 'yesterday' } },
  'operator.command': {
    valid: { source: 'operator', command: 'attach', user: 'dba', reason: 'back from maintenance' },
    broken: { source: 'operator', command: 'reboot', user: 'dba', reason: '' },
  },
  'operator.maintenance': {
    valid: { source: 'operator', on: true, all: false, user: 'dba', reason: 'kernel upgrade' },
    broken: { source: 'operator', on: 'yes', all: false, user: 'dba', reason: '' },
  },
  'operator.attention-clear': { valid: { source: 'operator', user: 'dba', reason: '' }, broken: { source: 'operator', user: '', reason: '' } },
  'reconciler.retry': { valid: { source: 'reconciler', actionId: 'e.0' }, broken: { source: 'reconciler', actionId: '' } },
  'action.outcome': {
    valid: { source: 'executor', actionId: 'e.0', action: 'detach', result: 'changed', attempt: 1 },
    broken: { source: 'executor', actionId: 'e.0', action: 'reboot', result: 'changed', attempt: 1 },
  },
  'reconciler.drift': {
    valid: { source: 'reconciler', nodeId: 2, observed: { status: 'down', role: 'standby' }, expected: 'up/standby' },
    broken: { source: 'reconciler', nodeId: 2, observed: { status: 'gone', role: 'standby' }, expected: 'up/standby' },
  },
};

test('every event variant has a valid sample that parses and a broken one that is refused', () => {
  assert.deepEqual(Object.keys(samples).sort(), [...NODE_EVENT_TYPES].sort(), 'a sample for every variant');
  for (const type of NODE_EVENT_TYPES) {
    const s = samples[type];
    assert.ok(s);
    const ok = NodeEventSchema.safeParse({ ...base, type, ...s.valid });
    assert.ok(ok.success, `${type}: ${ok.success ? '' : JSON.stringify(ok.error.issues)}`);
    const bad = NodeEventSchema.safeParse({ ...base, type, ...s.broken });
    assert.equal(bad.success, false, `${type}: the broken sample was accepted`);
  }
  assert.equal(NodeEventSchema.safeParse({ ...base, type: 'efm.reboot', source: 'efm' }).success, false, 'unknown type');
});

test('actions and audit records validate and refuse what does not fit', () => {
  const action = { actionId: 'ev-1.0', type: 'detach', cluster: 'prod-1', backend: '127.0.0.13:5432', eventId: 'ev-1', reason: 'standby down' };
  assert.ok(ActionSchema.safeParse(action).success);
  assert.equal(ActionSchema.safeParse({ ...action, actionId: 'a:b' }).success, false, 'no colon in job ids');
  assert.equal(ActionSchema.safeParse({ ...action, type: 'shutdown' }).success, false);
  const record = { kind: 'decision', cluster: 'prod-1', at: '2026-11-25T22:00:00.000Z', note: 'n', seq: 1, prevHash: '0'.repeat(64), hash: 'a'.repeat(64) };
  assert.ok(AuditRecordSchema.safeParse(record).success);
  assert.equal(AuditRecordSchema.safeParse({ ...record, hash: 'nothex' }).success, false);
  assert.equal(AuditRecordSchema.safeParse({ ...record, kind: 'gossip' }).success, false);
});
