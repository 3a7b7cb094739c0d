import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pcpAuthResponse } from '../../pcp/auth.ts';
import { cstrings, encodeFrame, FrameDecoder, splitCStrings } from '../../pcp/framing.ts';
import { decodeServerMessage } from '../../pcp/messages.ts';
import { decodeNodeInfo, layoutForCount, layoutFields, NodeInfoLayoutSchema } from '../../pcp/node-info.ts';

test('auth response matches the live 4.3.5 capture (salt with binary bytes)', () => {
  assert.equal(pcpAuthResponse('pcpadmin', 'secret', Buffer.from([0x01, 0x22, 0x8b, 0xa4])), 'cbb62aa82a4b664159c4df3c438d4936');
});

test('frames: type, length counting itself, payload; decoder handles split and joined chunks', () => {
  const f = encodeFrame('L');
  assert.deepEqual([...f], [0x4c, 0, 0, 0, 4]);
  const two = Buffer.concat([encodeFrame('l', cstrings('CommandComplete', '2')), encodeFrame('m', Buffer.from([0, 1, 2, 3]))]);
  const d = new FrameDecoder();
  for (const b of two) d.push(Buffer.from([b]));
  const a = d.next();
  assert.ok(a?.ok);
  assert.equal(a.frame.type, 'l');
  assert.deepEqual(splitCStrings(a.frame.payload), ['CommandComplete', '2']);
  const b = d.next();
  assert.ok(b?.ok);
  assert.deepEqual([...b.frame.payload], [0, 1, 2, 3]);
  assert.equal(d.next(), null);
});

test('decoder rejects impossible lengths', () => {
  const d = new FrameDecoder();
  d.push(Buffer.from([0x69, 0, 0, 0, 2]));
  const r = d.next();
  assert.ok(r && !r.ok);
  const big = new FrameDecoder();
  big.push(Buffer.from([0x69, 0x7f, 0, 0, 0]));
  assert.ok(big.next()?.ok === false);
});

test('payload without a final NUL is not a string list', () => {
  assert.equal(splitCStrings(Buffer.from('abc')), null);
  assert.deepEqual(splitCStrings(Buffer.from('a\0\0b\0')), ['a', '', 'b']);
});

test('E payload from the live capture decodes field by field', () => {
  const payload = Buffer.from(
    'SFATAL\0CXX000\0Mauthentication failed for user "pcpadmin"\0Dusername and/or password does not match\0Fpcp_worker.c\0L517\0\0',
    'latin1',
  );
  assert.deepEqual(decodeServerMessage(payload), {
    severity: 'FATAL',
    message: 'authentication failed for user "pcpadmin"',
    detail: 'username and/or password does not match',
    file: 'pcp_worker.c',
    line: '517',
  });
  assert.equal(decodeServerMessage(Buffer.from('Mno severity\0\0')), null);
  assert.equal(decodeServerMessage(Buffer.from('SDEBUG1\0Mx\0\0'))?.severity, 'DEBUG');
});

test('every field count 7..13 maps to exactly one layout; others are refused', () => {
  const seen = new Set<string>();
  for (let n = 7; n <= 13; n++) {
    const l = layoutForCount(n);
    assert.ok(l, `count ${n}`);
    seen.add(l);
  }
  assert.equal(seen.size, 7);
  assert.equal(layoutForCount(6), null);
  assert.equal(layoutForCount(14), null);
});

const SAMPLE: Record<string, string> = {
  host: '127.0.0.1',
  port: '27433',
  status: '1',
  quarantine: '0',
  pg_status: 'up',
  weight: '1073741823.500000',
  role: '3',
  pg_role: 'standby',
  delay_by_time: '1',
  delay: '40',
  repl_state: 'streaming',
  repl_sync_state: 'async',
  status_changed: '1795642950',
};

for (const layout of NodeInfoLayoutSchema.options) {
  test(`node info layout ${layout} decodes every field it carries`, () => {
    const names = layoutFields(layout);
    const r = decodeNodeInfo(1, names.map((f) => SAMPLE[f] ?? ''));
    assert.ok(r.ok, r.ok ? '' : r.error);
    const n = r.node;
    assert.equal(n.layout, layout);
    assert.equal(n.host, '127.0.0.1');
    assert.equal(n.port, 27433);
    assert.equal(n.status, 'waiting');
    assert.equal(n.role, 'standby');
    assert.equal(n.rawRole, 'standby');
    assert.ok(Math.abs(n.weight - 0.5) < 1e-9);
    assert.equal(n.replicationDelay, 40);
    assert.equal(n.lastStatusChange, new Date(1795642950 * 1000).toISOString());
    assert.equal(n.quarantine, names.includes('quarantine') ? false : undefined);
    assert.equal(n.backendStatus, names.includes('pg_status') ? 'up' : undefined);
    assert.equal(n.backendRole, names.includes('pg_role') ? 'standby' : undefined);
    assert.equal(n.replicationState, names.includes('repl_state') ? 'streaming' : undefined);
    assert.equal(n.replicationDelayUnit, layout === 'G' ? 'microseconds' : 'bytes');
  });
}

test('node info: the live 4.3.5 record (layout F, empty repl fields)', () => {
  const r = decodeNodeInfo(1, ['127.0.0.1', '27433', '1', '0', 'up', '1073741823.500000', '3', 'standby', '0', '', '', '1795642950']);
  assert.ok(r.ok);
  assert.equal(r.node.layout, 'F');
  assert.equal(r.node.replicationState, '');
});

test('node info: roles main/replica map to primary/standby, status codes to names', () => {
  const names = layoutFields('A');
  const make = (status: string, role: string) => decodeNodeInfo(0, names.map((f) => ({ ...SAMPLE, status, role })[f] ?? ''));
  const main = make('2', '0');
  assert.ok(main.ok && main.node.role === 'primary' && main.node.rawRole === 'main' && main.node.status === 'up');
  const rep = make('3', '1');
  assert.ok(rep.ok && rep.node.role === 'standby' && rep.node.rawRole === 'replica' && rep.node.status === 'down');
  const unused = make('0', '3');
  assert.ok(unused.ok && unused.node.status === 'unused');
});

test('node info: garbage fields are refused, not guessed', () => {
  const names = layoutFields('F');
  for (const [field, bad] of [
    ['port', 'abc'],
    ['status', '7'],
    ['role', 'x'],
    ['weight', '-1'],
    ['status_changed', 'yesterday'],
  ] as const) {
    const r = decodeNodeInfo(0, names.map((f) => (f === field ? bad : (SAMPLE[f] ?? ''))));
    assert.equal(r.ok, false, `${field}=${bad}`);
  }
});
