import { Socket, connect as netConnect } from 'node:net';
import { encodeFrame, FrameDecoder, MAX_REQUEST_LENGTH, type Frame } from './framing.ts';
import { decodeServerMessage, type PcpServerMessage } from './messages.ts';
import { remainingMs, type CallDeadline } from './deadline.ts';
import {
  PcpAbortedError,
  PcpClosedError,
  PcpConnectError,
  PcpError,
  PcpInvalidRequestError,
  PcpProtocolError,
  PcpServerError,
  PcpTimeoutError,
  type PcpPhase,
} from './errors/index.ts';

export interface ConnectionOptions {
  host: string;
  port: number;
  /** How the endpoint is named in results and errors. */
  name: string;
  connectMs: number;
  /** The whole exchange after connect (salt, auth, every reply frame and notice) shares this budget. */
  readMs: number;
  /** The caller's deadline for the whole call; it caps connectMs and readMs. */
  deadline?: CallDeadline;
  signal?: AbortSignal;
  /** `N` frames (warnings, notices) that arrive before a reply. */
  onNotice?: (notice: PcpServerMessage) => void;
}

/** What one call on a connection may spend; a kept connection gets a fresh one per call. */
export interface CallScope {
  deadline?: CallDeadline;
  signal?: AbortSignal;
}

interface Waiter {
  resolve: (f: Frame) => void;
  reject: (e: PcpError) => void;
  timer: NodeJS.Timeout;
}

/** Notices accepted before one reply; pgpool sends at most a few, a stream of them is hostile. */
export const MAX_NOTICES_PER_REPLY = 32;

/**
 * One TCP connection to a PCP port. At most one read is outstanding (PCP is strictly
 * request/reply). pgpool itself never times out, so the client does, with one budget for the
 * whole exchange rather than one per frame: a peer that sends a notice, or one node record,
 * just before each read's deadline would otherwise hold the caller for ever.
 * Any failure destroys the socket: a half-read PCP stream cannot be resynchronised.
 */
export class PcpConnection {
  private readonly decoder = new FrameDecoder();
  private waiter: Waiter | undefined;
  private failure: PcpError | undefined;
  /**
   * Logged out by close(): the socket ends normally. No error object is built for it (a stack
   * trace on every orderly close cost ~3% of a busy worker's CPU); one is made only if a caller
   * uses the connection after its logout, which is a bug worth the trace.
   */
  private loggedOut = false;
  /** The reply to a pipelined request (the auth reply) that the next expect() reads first; see owe(). */
  private owed: Promise<unknown> | undefined;
  private readonly onAbort: () => void;
  /** performance.now() by which every reply of the current call must have arrived. */
  private replyBy: number;
  private scope: CallScope;

  private constructor(
    private readonly socket: Socket,
    readonly opts: ConnectionOptions,
  ) {
    this.replyBy = performance.now() + opts.readMs;
    this.scope = { deadline: opts.deadline, signal: opts.signal };
    this.onAbort = () => this.fail(new PcpAbortedError(`PCP request to ${opts.name}`, { endpoint: opts.name }));
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      this.deliver();
    });
    socket.on('error', (err) => this.fail(new PcpClosedError(opts.name, 'the exchange', { cause: err })));
    socket.on('close', () => {
      // An orderly close (after our logout, or after a failure already recorded) needs no new error.
      if (this.failure || this.loggedOut) this.dropWaiter();
      else this.fail(new PcpClosedError(opts.name, 'the exchange'));
    });
  }

  static open(opts: ConnectionOptions): Promise<PcpConnection> {
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(new PcpAbortedError(`PCP request to ${opts.name}`, { endpoint: opts.name }));
        return;
      }
      const socket = netConnect({ host: opts.host, port: opts.port, noDelay: true });
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.removeListener('connect', onConnect);
        socket.removeListener('error', onError);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const giveUp = (err: PcpError): void => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const onConnect = (): void => {
        cleanup();
        resolve(new PcpConnection(socket, opts));
      };
      const onError = (err: NodeJS.ErrnoException): void =>
        giveUp(new PcpConnectError(opts.name, err.code ?? err.message, { cause: err }));
      const onAbort = (): void => giveUp(new PcpAbortedError(`PCP connect to ${opts.name}`, { endpoint: opts.name }));
      const left = opts.deadline ? remainingMs(opts.deadline) : Infinity;
      const byCall = left < opts.connectMs;
      const timer = setTimeout(
        () => giveUp(byCall && opts.deadline ? new PcpTimeoutError(opts.name, 'call', opts.deadline.ms) : new PcpTimeoutError(opts.name, 'connect', opts.connectMs)),
        Math.min(opts.connectMs, left),
      );
      socket.once('connect', onConnect);
      socket.once('error', onError);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get name(): string {
    return this.opts.name;
  }

  /** No failure seen and the socket still open: a kept connection may carry another call. */
  get usable(): boolean {
    return this.failure === undefined && !this.loggedOut && !this.socket.destroyed;
  }

  /**
   * A kept connection starts another call: a fresh readMs budget, the new caller's deadline and
   * abort signal, and the socket holds the process open again while the call runs.
   */
  beginCall(scope: CallScope): void {
    this.scope.signal?.removeEventListener('abort', this.onAbort);
    this.scope = scope;
    this.replyBy = performance.now() + this.opts.readMs;
    if (scope.signal?.aborted) {
      this.fail(new PcpAbortedError(`PCP request to ${this.name}`, { endpoint: this.name }));
      return;
    }
    scope.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.socket.ref();
  }

  /** Between calls: no caller to abort it, and an idle kept socket never holds the process open. */
  rest(): void {
    this.scope.signal?.removeEventListener('abort', this.onAbort);
    this.scope = {};
    this.socket.unref();
  }

  send(type: string, payload?: Buffer): void {
    if (this.failure) throw this.failure;
    if (this.loggedOut) throw new PcpClosedError(this.name, 'logout');
    const frame = encodeFrame(type, payload);
    if (frame.length - 1 > MAX_REQUEST_LENGTH)
      throw new PcpInvalidRequestError(
        `PCP request '${type}' would be ${frame.length - 1} bytes; pgpool refuses requests of 260 bytes or more`,
        { endpoint: this.name },
      );
    this.socket.write(frame);
  }

  /**
   * The reply being read for a request sent ahead of the next one (pipelined): the next expect()
   * waits for it, and fails with its error. Until then its failure is held, not unhandled.
   */
  owe(reply: Promise<unknown>): void {
    reply.catch(() => undefined);
    this.owed = reply;
  }

  /** The next frame, whatever its type, within what is left of the session's and the call's budget. */
  readFrame(phase: PcpPhase): Promise<Frame> {
    if (this.waiter) return Promise.reject(new PcpProtocolError(this.name, 'a second read while one is pending'));
    if (this.loggedOut && !this.failure) return Promise.reject(new PcpClosedError(this.name, 'logout'));
    const now = performance.now();
    const session = this.replyBy - now;
    const deadline = this.scope.deadline;
    const call = deadline ? remainingMs(deadline, now) : Infinity;
    const timeout = (): PcpTimeoutError =>
      call < session && deadline
        ? new PcpTimeoutError(this.name, 'call', deadline.ms)
        : new PcpTimeoutError(this.name, phase, this.opts.readMs);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(timeout()), Math.max(0, Math.min(session, call)));
      this.waiter = { resolve, reject, timer };
      this.deliver();
    });
  }

  /**
   * The next reply frame of one of `types`: notices are passed to onNotice and skipped, an `E`
   * becomes a PcpServerError (the connection dies with FATAL/PANIC), anything else is desync.
   */
  async expect(types: readonly string[], request: string, phase: PcpPhase = 'reply'): Promise<Frame> {
    const owed = this.owed;
    if (owed) {
      this.owed = undefined;
      await owed;
    }
    for (let notices = 0; ; ) {
      const frame = await this.readFrame(phase);
      if (frame.type === 'N') {
        if (++notices > MAX_NOTICES_PER_REPLY)
          throw this.fail(new PcpProtocolError(this.name, `more than ${MAX_NOTICES_PER_REPLY} notices before the reply to ${request}`));
        const notice = decodeServerMessage(frame.payload);
        if (!notice) throw this.fail(new PcpProtocolError(this.name, 'an undecodable notice (N) frame'));
        this.opts.onNotice?.(notice);
        continue;
      }
      if (frame.type === 'E') {
        const report = decodeServerMessage(frame.payload);
        if (!report) throw this.fail(new PcpProtocolError(this.name, 'an undecodable error (E) frame'));
        const err = new PcpServerError(this.name, report, request);
        if (err.fatal) this.fail(err);
        throw err;
      }
      if (!types.includes(frame.type))
        throw this.fail(new PcpProtocolError(this.name, `frame type '${printableType(frame.type)}' in reply to ${request}`));
      return frame;
    }
  }

  /**
   * Orderly logout: `X` makes the PCP worker exit without logging a read error. We return once X
   * is flushed; the worker exits on its own, so waiting for its FIN would only add a round trip.
   * A peer that never closes is cut off after readMs (unref'd: it never holds the process open).
   */
  async close(): Promise<void> {
    this.scope.signal?.removeEventListener('abort', this.onAbort);
    if (this.loggedOut) return;
    if (this.failure || this.socket.destroyed) {
      this.socket.destroy();
      return;
    }
    this.loggedOut = true;
    const reaper = setTimeout(() => this.socket.destroy(), this.opts.readMs);
    reaper.unref();
    this.socket.once('close', () => clearTimeout(reaper));
    await new Promise<void>((resolve) => this.socket.end(encodeFrame('X'), () => resolve()));
  }

  destroy(): void {
    this.scope.signal?.removeEventListener('abort', this.onAbort);
    this.fail(new PcpClosedError(this.name, 'cleanup'));
  }

  /** Records the first failure, tears the socket down, and rejects a pending read with it. */
  fail(err: PcpError): PcpError {
    if (!this.failure) this.failure = err;
    this.socket.destroy();
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.reject(this.failure);
    }
    return this.failure;
  }

  /** The socket closed with nothing more to read: a pending read gets the failure, or a logout error. */
  private dropWaiter(): void {
    if (!this.waiter) return;
    this.fail(this.failure ?? new PcpClosedError(this.name, 'logout'));
  }

  private deliver(): void {
    const w = this.waiter;
    if (!w) return;
    const next = this.decoder.next();
    if (next === null) {
      if (this.failure) this.fail(this.failure);
      return;
    }
    this.waiter = undefined;
    clearTimeout(w.timer);
    if (!next.ok) {
      w.reject(this.fail(new PcpProtocolError(this.name, next.error)));
      return;
    }
    w.resolve(next.frame);
  }
}

function printableType(t: string): string {
  const c = t.charCodeAt(0);
  return c >= 0x21 && c < 0x7f ? t : `0x${c.toString(16).padStart(2, '0')}`;
}
