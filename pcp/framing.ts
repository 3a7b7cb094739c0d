import { escapeControls } from '../contracts/text.ts';

/**
 * PCP framing, both directions: type byte, int32 big-endian length counting itself and the
 * payload (not the type byte), payload. Strings inside payloads are NUL-terminated.
 */

/** pgpool drops any request frame whose length field is >= 260 (MAX_PCP_PACKET_LENGTH). */
export const MAX_REQUEST_LENGTH = 259;
/** Replies are small; anything larger than this is a desynchronised or foreign stream. */
export const MAX_REPLY_LENGTH = 1024 * 1024;

export interface Frame {
  type: string;
  payload: Buffer;
}

export function encodeFrame(type: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 1, 'latin1');
  head.writeInt32BE(4 + payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** NUL-terminated strings, concatenated. */
export function cstrings(...parts: string[]): Buffer {
  return Buffer.concat(parts.flatMap((p) => [Buffer.from(p, 'utf8'), Buffer.from([0])]));
}

/**
 * Splits a payload into its NUL-terminated strings. A payload must end with NUL; the single
 * trailing empty element of the split is dropped so empty fields stay countable. Every string
 * pgpool sends ends up in front of a human (audit, logs, terminal, notification), so control
 * characters are escaped here, at the one place all of them pass.
 */
export function splitCStrings(payload: Buffer): string[] | null {
  if (payload.length === 0) return [];
  if (payload[payload.length - 1] !== 0) return null;
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === 0) {
      out.push(escapeControls(payload.subarray(start, i).toString('utf8')));
      start = i + 1;
    }
  }
  return out;
}

export type FrameResult = { ok: true; frame: Frame } | { ok: false; error: string } | null;

/**
 * Incremental decoder: push bytes as they arrive, take whole frames out. Returns null while a
 * frame is incomplete and an error for a length no PCP server sends.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  get buffered(): number {
    return this.buf.length;
  }

  /** The length field of the frame at the head, once its header has arrived. */
  peekLength(): number | undefined {
    return this.buf.length >= 5 ? this.buf.readInt32BE(1) : undefined;
  }

  next(): FrameResult {
    if (this.buf.length < 5) return null;
    const len = this.buf.readInt32BE(1);
    if (len < 4 || len > MAX_REPLY_LENGTH) return { ok: false, error: `frame length ${len} out of range` };
    if (this.buf.length < 1 + len) return null;
    const type = this.buf.subarray(0, 1).toString('latin1');
    const payload = Buffer.from(this.buf.subarray(5, 1 + len));
    this.buf = this.buf.subarray(1 + len);
    return { ok: true, frame: { type, payload } };
  }
}
