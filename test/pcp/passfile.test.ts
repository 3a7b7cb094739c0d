import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { hostKey, lookupPassword, matchPassfile, passfileLines, passfilePath } from '../../pcp/passfile.ts';
import { PcpPasswordNotFoundError } from '../../pcp/errors/index.ts';
import { redactText } from '../../runtime/redact.ts';
import { tempDir } from './helpers.ts';

const q = { host: '10.0.0.5', port: 9898, user: 'pcpadmin' };
const match = (text: string, query = q): string | undefined => matchPassfile(Buffer.from(text), query);

test('first matching line wins; fields are host:port:user:password', () => {
  const file = 'other:9898:pcpadmin:nope\n10.0.0.5:9898:pcpadmin:first\n10.0.0.5:9898:pcpadmin:second\n';
  assert.equal(match(file), 'first');
  assert.equal(match('10.0.0.5:9899:pcpadmin:x\n'), undefined);
  assert.equal(match('10.0.0.5:9898:someone:x\n'), undefined);
});

test('* matches any value, but only as the whole field', () => {
  assert.equal(match('*:*:*:wild\n'), 'wild');
  assert.equal(match('*:9898:pcpadmin:a\n'), 'a');
  assert.equal(match('10.0.0.*:9898:pcpadmin:a\n'), undefined);
  assert.equal(match('**:9898:pcpadmin:a\n'), undefined);
});

test('backslash escapes : and \\ in fields and password', () => {
  assert.equal(match('*:*:pcp\\:admin:p\\:w\\\\d:trailing\n', { ...q, user: 'pcp:admin' }), 'p:w\\d');
  assert.equal(match('10.0.0.5:98\\98:pcpadmin:ok\n'), 'ok');
  assert.equal(match('*:*:pcpadmin:pass:word\n'), 'pass');
});

test('only \\n is stripped: CRLF files keep \\r in the password', () => {
  assert.equal(match('*:*:pcpadmin:pw\r\n'), 'pw\r');
});

test('comments get no special treatment and blank lines never match', () => {
  assert.equal(match('#*:*:pcpadmin:commented\n\n*:*:pcpadmin:real\n'), 'real');
  assert.equal(match('# a comment\n'), undefined);
});

test('lines are read in 319-byte pieces like fgets with a 320-byte buffer', () => {
  const long = `${'x'.repeat(400)}\n`;
  const pieces = passfileLines(Buffer.from(long));
  assert.deepEqual(pieces.map((p) => p.length), [319, 81]);
  // a password pushed past byte 319 is cut; the tail piece is matched as a line of its own
  const user = 'u'.repeat(310); // 4 + 310 + 1 bytes before the password leaves room for 4 of it
  assert.equal(match(`*:*:${user}:password\n`, { ...q, user }), 'pass');
  const tail = `${'y'.repeat(319)}*:*:pcpadmin:hidden\n`;
  assert.equal(match(tail), 'hidden');
});

test('host key: no host or the default socket dir means "localhost"', () => {
  assert.equal(hostKey(undefined), 'localhost');
  assert.equal(hostKey('/tmp'), 'localhost');
  assert.equal(hostKey('127.0.0.1'), '127.0.0.1');
  assert.equal(match('localhost:9898:pcpadmin:sock\n', { host: '/tmp', port: 9898, user: 'pcpadmin' }), 'sock');
});

test('which file: configured passfile, else $PCPPASSFILE literally, else passwd home', () => {
  assert.equal(passfilePath({ passfile: '/a/b', env: { PCPPASSFILE: '/c' } }), '/a/b');
  assert.equal(passfilePath({ env: { PCPPASSFILE: 'relative/file' } }), 'relative/file');
  assert.equal(passfilePath({ env: { HOME: '/not/used' }, home: '/home/pg' }), '/home/pg/.pcppass');
});

test('files with group/other bits are ignored, with the reason and the fix', () => {
  const dir = tempDir();
  try {
    const p = dir.file('pass', '*:*:pcpadmin:secret\n', 0o640);
    assert.throws(() => lookupPassword(q, { passfile: p }), (e: unknown) => e instanceof PcpPasswordNotFoundError && /0640/.test(e.message) && /chmod 600/.test(e.message));
    const p2 = dir.file('pass2', '*:*:pcpadmin:secret\n', 0o604);
    assert.throws(() => lookupPassword(q, { passfile: p2 }), PcpPasswordNotFoundError);
    const ok = dir.file('pass3', '*:*:pcpadmin:secret\n', 0o400);
    assert.equal(lookupPassword(q, { passfile: ok }), 'secret');
  } finally {
    dir.remove();
  }
});

test('missing file, directory, or no matching line: a reason, never the password', () => {
  const dir = tempDir();
  try {
    assert.throws(() => lookupPassword(q, { passfile: join(dir.path, 'nope') }), /ENOENT/);
    const sub = join(dir.path, 'sub');
    mkdirSync(sub, { mode: 0o700 });
    assert.throws(() => lookupPassword(q, { passfile: sub }), /not a regular file/);
    const p = dir.file('pass', 'other:1:x:hunter22\n');
    assert.throws(
      () => lookupPassword(q, { passfile: p }),
      (e: unknown) => e instanceof PcpPasswordNotFoundError && e.message.includes('10.0.0.5:9898:pcpadmin') && !e.message.includes('hunter22'),
    );
  } finally {
    dir.remove();
  }
});

test('a password read from the passfile is registered for redaction', () => {
  const dir = tempDir();
  try {
    const p = dir.file('pass', '*:*:pcpadmin:s3cr3t-value\n');
    assert.equal(lookupPassword(q, { passfile: p }), 's3cr3t-value');
    assert.equal(redactText('oops s3cr3t-value leaked'), 'oops [REDACTED] leaked');
  } finally {
    dir.remove();
  }
});

test('PCPPASSFILE from the environment is used when the config names none', () => {
  const dir = tempDir();
  try {
    const p = dir.file('envpass', '10.0.0.5:9898:pcpadmin:fromenv\n');
    assert.equal(lookupPassword(q, { env: { PCPPASSFILE: p } }), 'fromenv');
  } finally {
    dir.remove();
  }
});
