import { createHash } from 'node:crypto';

/**
 * PCP's own md5 challenge (not PostgreSQL's): md5hex(md5hex(md5hex(password) + user) + salt),
 * lowercase hex, the salt as its 4 raw bytes (it may contain NUL).
 */
export function pcpAuthResponse(user: string, password: string, salt: Buffer): string {
  const md5hex = (data: Buffer): string => createHash('md5').update(data).digest('hex');
  const h1 = md5hex(Buffer.from(password, 'utf8'));
  const h2 = md5hex(Buffer.from(h1 + user, 'utf8'));
  return md5hex(Buffer.concat([Buffer.from(h2, 'latin1'), salt]));
}

/** pgpool keeps user and password in 128-byte buffers (MAX_USER_PASSWD_LEN). */
export const MAX_USER_BYTES = 127;
