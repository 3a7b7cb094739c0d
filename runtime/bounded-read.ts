import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { BoundedReadError } from './errors.ts';

/**
 * Reads a small file a hook or the worker was pointed at (config, secret, TLS material) without ever
 * blocking or growing without bound: opened non-blocking (a FIFO would otherwise hang the open
 * until a writer comes, and a blocked synchronous call stops every timer, the hook's deadline
 * included), refused unless it is a regular file of at most `max` bytes (`--config /dev/zero`
 * once grew the hook to 4.8 GB).
 */

/** How large a file of each kind may be, for the hooks and the worker alike. */
export const FILE_LIMITS = {
  config: 4 * 1024 * 1024,
  secret: 64 * 1024,
  tls: 1024 * 1024,
} as const;

function describeKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function readBoundedFile(path: string, max: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new BoundedReadError(`cannot be read (${code})`, code, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BoundedReadError(`is ${describeKind(st)}, not a regular file`, 'ENOTREG');
    if (st.size > max) throw new BoundedReadError(`is ${st.size} bytes; at most ${max} are read`, 'EFBIG');
    // One byte past the limit at most: a file that grows while we read is refused, not followed.
    // A small slack for a file rewritten meanwhile; not more: the worker reads one passfile per
    // cluster at start, and 1,000 buffers of 64 kB left 20 MB of malloc heap it never gave back.
    const buf = Buffer.allocUnsafe(Math.min(max + 1, st.size + 4096));
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
      if (len > max) throw new BoundedReadError(`grew past ${max} bytes while being read`, 'EFBIG');
      if (len === buf.length) break;
    }
    return buf.subarray(0, len);
  } catch (err) {
    if (err instanceof BoundedReadError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new BoundedReadError(`cannot be read (${code})`, code, { cause: err });
  } finally {
    closeSync(fd);
  }
}

/** Up to `size` bytes of an open file (what fstat said it holds): fewer if it shrank meanwhile. */
export function readOpenFile(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  let len = 0;
  while (len < buf.length) {
    const n = readSync(fd, buf, len, buf.length - len, null);
    if (n === 0) break;
    len += n;
  }
  return buf.subarray(0, len);
}
