import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { lookupPassword } from '../../pcp/passfile.ts';
import { PcpPasswordNotFoundError } from '../../pcp/errors/index.ts';
import { tempDir } from './helpers.ts';

/**
 * `.pcppass` must be owned by the user reading it, as the README says; before, only its mode was
 * checked, so a 0600 file of another user (or a symlink planted to one) lent its passwords.
 */

const dir = tempDir();
after(() => dir.remove());
const q = { host: '10.0.0.5', port: 9898, user: 'pcpadmin' };
const me = process.geteuid?.() ?? 0;
const other = me === 65534 ? 65533 : 65534;

test("a 0600 passfile owned by the reading user is used; one of another user is refused, saying whose it is", () => {
  const mine = dir.file('mine', '*:*:pcpadmin:pw\n');
  assert.equal(lookupPassword(q, { passfile: mine }), 'pw');
  const theirs = dir.file('theirs', '*:*:pcpadmin:stolen\n');
  // As root the file really is given away; otherwise the check is asked for another uid.
  const src = me === 0 ? (chownSync(theirs, other, other), { passfile: theirs }) : { passfile: theirs, uid: other };
  assert.throws(
    () => lookupPassword(q, src),
    (e: unknown) => e instanceof PcpPasswordNotFoundError && /is owned by uid \d+, not by the user reading it \(uid \d+\)/.test(e.message) && !e.message.includes('stolen'),
  );
});

test("a symlink to someone else's passfile is refused; a symlink to one's own is followed", () => {
  const target = dir.file('target', '*:*:pcpadmin:linked\n');
  const link = join(dir.path, 'link');
  symlinkSync(target, link);
  assert.equal(lookupPassword(q, { passfile: link }), 'linked');
  const foreign = dir.file('foreign', '*:*:pcpadmin:stolen\n');
  const foreignLink = join(dir.path, 'foreign-link');
  symlinkSync(foreign, foreignLink);
  const src = me === 0 ? (chownSync(foreign, other, other), { passfile: foreignLink }) : { passfile: foreignLink, uid: other };
  assert.throws(
    () => lookupPassword(q, src),
    (e: unknown) => e instanceof PcpPasswordNotFoundError && /through a symbolic link\) is owned by uid/.test(e.message),
  );
});
