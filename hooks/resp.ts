import { connect as netConnect, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { RedisUnavailableError } from './errors.ts';

/**
 * A minimal RESP2 client over one socket: the hook needs a handful of commands and must not
 * pay ioredis's ~40 ms load time. Commands are pipelined in order on one connection; replies
 * come back in the same order. Every connection has a deadline after which it is destroyed and
 * every pending call fails with RedisUnavailableError, so a silent Redis can never hold EFM.
 */

export class RespErrorReply {
  constructor(readonly message: string) {}
}
export type RespReply = string | number | null | RespErrorReply | RespReply[];

export interface RespEndpoint {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  /** Present for rediss:// or a tls section: options for node:tls. */
  tls?: ConnectionOptions;
}

interface Pending {
  resolve(r: RespReply): void;
  reject(e: Error): void;
}

const CRLF = '\r\n';

export function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}${CRLF}`;
  for (const a of args) out += `$${Buffer.byteLength(a)}${CRLF}${a}${CRLF}`;
  return out;
}

/** Parses one reply at `pos`; undefined when the buffer does not hold all of it yet. */
export function parseReply(buf: Buffer, pos: number): { value: RespReply; end: number } | undefined {
  const eol = buf.indexOf(CRLF, pos);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[pos] ?? 0);
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespErrorReply(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new RedisUnavailableError(`not a Redis server: unexpected reply byte ${JSON.stringify(type)}`);
  }
}

export class RespClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private failure: Error | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly endpoint: RespEndpoint,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) =>
      this.fail(new RedisUnavailableError(`Redis ${this.where()}: ${err.message}`, { cause: err })),
    );
    socket.on('close', () =>
      this.fail(new RedisUnavailableError(`Redis ${this.where()} closed the connection`)),
    );
  }

  /** Connects, authenticates and selects the database, all before `deadlineAt` (epoch ms). */
  static async connect(ep: RespEndpoint, deadlineAt: number): Promise<RespClient> {
    const socket = ep.tls
      ? (await import('node:tls')).connect({ ...ep.tls, host: ep.host, port: ep.port })
      : netConnect({ host: ep.host, port: ep.port });
    socket.setNoDelay(true);
    const client = new RespClient(socket, ep);
    client.setDeadline(deadlineAt);
    const setup: string[][] = [];
    if (ep.password !== undefined)
      setup.push(ep.username ? ['AUTH', ep.username, ep.password] : ['AUTH', ep.password]);
    if (ep.db !== 0) setup.push(['SELECT', String(ep.db)]);
    if (setup.length === 0) setup.push(['PING']);
    const replies = await client.pipeline(setup);
    const bad = replies.find((r) => r instanceof RespErrorReply);
    if (bad instanceof RespErrorReply) {
      client.close();
      // The reply text is Redis's own (e.g. WRONGPASS …); it never echoes the password.
      throw new RedisUnavailableError(`Redis ${client.where()} refused the connection setup: ${bad.message}`);
    }
    return client;
  }

  where(): string {
    return `${this.endpoint.host}:${this.endpoint.port}`;
  }

  /** Moves the deadline (e.g. the fence wait outlives the publish deadline). */
  setDeadline(deadlineAt: number): void {
    if (this.timer) clearTimeout(this.timer);
    const ms = Math.max(0, deadlineAt - Date.now());
    this.timer = setTimeout(() => {
      this.fail(new RedisUnavailableError(`Redis ${this.where()} did not answer within the deadline`));
    }, ms);
  }

  call(...args: string[]): Promise<RespReply> {
    return this.pipeline([args]).then((r) => r[0] ?? null);
  }

  /** Sends all commands in one write; resolves with the replies in order (error replies included). */
  pipeline(commands: readonly (readonly string[])[]): Promise<RespReply[]> {
    if (this.failure) return Promise.reject(this.failure);
    const promises = commands.map(
      () => new Promise<RespReply>((resolve, reject) => this.pending.push({ resolve, reject })),
    );
    this.socket.write(commands.map(encodeCommand).join(''));
    return Promise.all(promises);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.failure ??= new RedisUnavailableError('connection closed by pcpflow');
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let pos = 0;
    try {
      while (pos < this.buf.length) {
        const r = parseReply(this.buf, pos);
        if (!r) break;
        pos = r.end;
        this.pending.shift()?.resolve(r.value);
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new RedisUnavailableError(String(err)));
      return;
    }
    this.buf = this.buf.subarray(pos);
  }

  private fail(err: Error): void {
    if (this.timer) clearTimeout(this.timer);
    this.failure ??= err;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
    this.socket.destroy();
  }
}
