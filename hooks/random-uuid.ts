import { randomUUID as cryptoRandomUUID } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

/**
 * An RFC 4122 version 4 UUID (the event id) from 16 bytes of /dev/urandom, the kernel's CSPRNG
 * that node:crypto draws from too. Loading node:crypto costs the hook ~5 ms of every start
 * (bench/hooks.ts); the bundle loads it lazily (scripts/build-hook.ts), so it is used here only
 * where /dev/urandom cannot be read (a chroot without /dev).
 */
export function randomUUID(): string {
  const b = Buffer.alloc(16);
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    if (readSync(fd, b, 0, 16, null) !== 16) return cryptoRandomUUID();
  } catch {
    return cryptoRandomUUID();
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40; // version 4
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80; // variant 10xx
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
