import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { cstrings, encodeFrame, FrameDecoder, splitCStrings } from '../pcp/framing.ts';
import { encodeNodeInfoFields, type NodeInfoLayout } from '../pcp/node-info.ts';

/**
 * A PCP server speaking pgpool's wire protocol (4.0–4.7 node-info layouts), with pgpool 4.3.5's
 * semantics for the node commands (asynchronous effects, "already down" errors, promote marking
 * every other node down, promote of a down node silently ignored) and fault injection.
 * Cheap enough to run hundreds at once (one net.Server each, no timers unless asked).
 * Over 300 lines: one fake pgpool whose protocol, node semantics and faults must change together.
 */

export interface FakeBackend {
  host: string;
  port: number;
  /** 0 unused, 1 waiting, 2 up, 3 down */
  status: 0 | 1 | 2 | 3;
  role: 'primary' | 'standby';
  weight?: number;
  quarantine?: boolean;
  pgStatus?: string;
  pgRole?: string;
  delay?: number;
  replState?: string;
  replSyncState?: string;
  statusChanged?: number;
}

export type Severity = 'ERROR' | 'FATAL' | 'NOTICE' | 'WARNING';

export type Fault =
  /** answer after ms */
  | { kind: 'delay'; ms: number }
  /** never answer; the connection stays open until the client gives up */
  | { kind: 'silence' }
  /** close the connection instead of answering */
  | { kind: 'close' }
  /** send the first `bytes` bytes of the answer (default: half), then close */
  | { kind: 'truncate'; bytes?: number }
  /** send these bytes instead of the answer */
  | { kind: 'garbage'; bytes?: Buffer }
  /** answer with an E frame instead */
  | { kind: 'error'; severity: 'ERROR' | 'FATAL'; message: string; detail?: string }
  /** send N frames before the real answer */
  | { kind: 'notice'; messages: string[]; severity?: Severity }
  /** a NOTICE every everyMs, for ever, and never the answer (each one just inside a per-frame timeout) */
  | { kind: 'notice-drip'; everyMs: number; message?: string }
  /** the answer's frames one at a time, gapMs apart (128 node records trickled out) */
  | { kind: 'spaced'; gapMs: number };

export interface PcpRequest {
  type: string;
  payload: Buffer;
  connection: number;
  authenticated: boolean;
}

export interface PcpServerOptions {
  host?: string;
  port?: number;
  /** user → password (stored as pgpool does: md5 of the password). Default pcpadmin/secret. */
  users?: Record<string, string>;
  /** Node-info layout, i.e. the pgpool generation to imitate. Default F (4.3.1+). */
  layout?: NodeInfoLayout;
  /** The backends, or a count of backends on 127.0.0.1:15432+i (node 0 primary). */
  backends?: FakeBackend[] | number;
  /** Delay between accepting attach/detach/promote and the change showing; default 0 (next tick). */
  effectDelayMs?: number;
  /** Per request: a fault to inject, or undefined to answer normally. */
  fault?: (req: PcpRequest) => Fault | undefined;
  /** Watchdog JSON; null (default) answers "watchdog is not enabled". */
  watchdog?: Record<string, unknown> | null;
}

export interface PcpTestServer {
  host: string;
  port: number;
  /** Live state, mutable by tests. */
  backends: FakeBackend[];
  requests: PcpRequest[];
  stats: { opened: number; closed: number; loggedOut: number; authFailures: number };
  openConnections(): number;
  setFault(fn: PcpServerOptions['fault']): void;
  /** Injects `fault` into the next request of `type` only. */
  faultOnce(type: string, fault: Fault): void;
  /** Resolves when no connection is open (clients must never keep one). */
  waitIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const md5hex = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

const RAND_MAX = 2147483647;

function defaultBackends(n: number): FakeBackend[] {
  return Array.from({ length: n }, (_, i) => ({
    host: '127.0.0.1',
    port: 15432 + i,
    status: 2,
    role: i === 0 ? 'primary' : 'standby',
    replState: i === 0 ? '' : 'streaming',
    replSyncState: i === 0 ? '' : 'async',
  }));
}

function report(type: 'E' | 'N', severity: string, message: string, detail?: string): Buffer {
  const items = [`S${severity}`, 'CXX000', `M${message}`, ...(detail ? [`D${detail}`] : []), 'Fpcp_worker.c', 'L1'];
  return encodeFrame(type, Buffer.concat([cstrings(...items), Buffer.from([0])]));
}

export async function startPcpServer(opts: PcpServerOptions = {}): Promise<PcpTestServer> {
  const host = opts.host ?? '127.0.0.1';
  const layout = opts.layout ?? 'F';
  const modern = layout === 'E' || layout === 'F' || layout === 'G';
  const users = new Map(Object.entries(opts.users ?? { pcpadmin: 'secret' }).map(([u, p]) => [u, md5hex(p)]));
  const backends: FakeBackend[] =
    typeof opts.backends === 'number' ? defaultBackends(opts.backends) : (opts.backends ?? defaultBackends(3));
  let faultFn = opts.fault;
  const once_ = new Map<string, Fault[]>();
  const requests: PcpRequest[] = [];
  const stats = { opened: 0, closed: 0, loggedOut: 0, authFailures: 0 };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let connSeq = 0;

  const later = (fn: () => void, ms: number): void => {
    if (ms <= 0) {
      setImmediate(fn);
      return;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const effect = (fn: () => void): void => later(fn, opts.effectDelayMs ?? 0);
  const now = (): number => Math.floor(Date.now() / 1000);

  function nodeFields(b: FakeBackend): string[] {
    return encodeNodeInfoFields(layout, {
      host: b.host,
      port: String(b.port),
      status: String(b.status),
      quarantine: b.quarantine ? '1' : '0',
      pg_status: b.pgStatus ?? 'unknown',
      weight: ((b.weight ?? 1 / backends.length) * RAND_MAX).toFixed(6),
      role: b.role === 'primary' ? '2' : '3',
      pg_role: b.pgRole ?? 'unknown',
      delay_by_time: '0',
      delay: String(b.delay ?? 0),
      repl_state: b.replState ?? '',
      repl_sync_state: b.replSyncState ?? '',
      status_changed: String(b.statusChanged ?? 1795642950),
    });
  }

  /** The answer frames for one authenticated request; `close` = the worker exits afterwards (FATAL, X). */
  function answer(type: string, payload: Buffer): { out: Buffer[]; close: boolean } {
    const parts = splitCStrings(payload) ?? [];
    const ok = (letter: string, ...rest: string[]): Buffer => encodeFrame(letter, cstrings('CommandComplete', ...rest));
    const error = (msg: string, detail?: string): { out: Buffer[]; close: boolean } => ({ out: [report('E', 'ERROR', msg, detail)], close: false });
    const fatal = (msg: string, detail?: string): { out: Buffer[]; close: boolean } => ({ out: [report('E', 'FATAL', msg, detail)], close: true });
    const atoi = (s: string | undefined): number => {
      const m = /^\s*(-?\d+)/.exec(s ?? '');
      return m ? Number(m[1]) : 0;
    };
    switch (type) {
      case 'L':
        return { out: [ok('l', String(backends.length))], close: false };
      case 'I': {
        const id = atoi(parts[0]);
        if (modern) {
          const ids = id === -1 ? backends.map((_, i) => i) : [id];
          if (ids.some((i) => i < 0 || i >= backends.length)) return error('informing node info failed', `invalid node ID : ${id}`);
          return {
            out: [
              encodeFrame('i', cstrings('ArraySize', String(ids.length))),
              ...ids.map((i) => encodeFrame('i', cstrings('NodeInfo', ...nodeFields(backends[i] as FakeBackend)))),
              encodeFrame('i', cstrings('CommandComplete')),
            ],
            close: false,
          };
        }
        const b = backends[id];
        if (id < 0 || !b) return error('informing node info failed', 'invalid node ID');
        return { out: [ok('i', ...nodeFields(b))], close: false };
      }
      case 'C': {
        const id = atoi(parts[0]);
        if (id < 0 || id >= 128) return error(`invalid failback request, node id: ${id} is out of range. node id must be between [0 and 128]`);
        effect(() => {
          const b = backends[id];
          if (b && b.status === 3) {
            b.status = 1;
            b.quarantine = false;
            b.statusChanged = now();
          }
        });
        return { out: [ok('c')], close: false };
      }
      case 'D':
      case 'd': {
        const id = atoi(parts[0]);
        if (id < 0 || id >= 128) return error(`invalid degenerate backend request, node id: ${id} is out of range. node id must be between [0 and 128]`);
        const b = backends[id];
        const st = b?.status ?? 0;
        if (!b || st === 0 || (st === 3 && !b.quarantine))
          return error(`invalid degenerate backend request, node id : ${id} status: [${st}] is not valid for failover`);
        effect(() => {
          b.status = 3;
          b.quarantine = false;
          b.statusChanged = now();
          // pgpool (no failover_command) finds no new primary when the primary goes
          if (b.role === 'primary') b.role = 'standby';
        });
        return { out: [ok('d')], close: false };
      }
      case 'J':
      case 'j': {
        const text = modern ? (payload.subarray(0, Math.max(0, payload.indexOf(0x20))).toString() || '') : (parts[0] ?? '');
        const id = atoi(text);
        const option = modern ? String.fromCharCode(payload[payload.length - 1] ?? 0x6e) : 'n';
        const b = backends[id];
        if (id < 0 || !b) return error(modern ? 'could not process promote request' : 'could not process recovery request', `node id ${id} is not valid`);
        if (b.role === 'primary')
          return fatal('invalid promote request', `specified node is already primary node, can't promote node id ${id}`);
        if (option === 's') {
          effect(() => {
            for (const o of backends) if (o.role === 'primary') {
              o.status = 3;
              o.role = 'standby';
            }
          });
        } else if (b.status !== 3 && b.status !== 0) {
          effect(() => {
            if (b.status === 3) return;
            backends.forEach((o, i) => {
              if (i === id) o.role = 'primary';
              else if (o.status !== 0) {
                o.role = 'standby';
                o.status = 3;
                o.statusChanged = now();
              }
            });
          });
        }
        return { out: [ok('d')], close: false };
      }
      case 'H': {
        if (layout === 'A' || layout === 'B') return fatal('PCP processing request', 'unknown PCP packet type "H"');
        const id = atoi(parts[0]);
        const b = backends[id];
        if (!b) return error('informing health check stats info failed', `invalid node ID ${id}`);
        const st = ['unused', 'waiting', 'up', 'down'][b.status] ?? 'unused';
        return {
          out: [ok('h', String(id), b.host, String(b.port), st, b.role, '2026-11-25 22:34:42', '10', '9', '1', '0', '2', '0.200000', '1', '15', '3', '5.500000', '2026-11-25 22:40:00', '2026-11-25 22:40:00', '', '2026-11-25 22:30:00')],
          close: false,
        };
      }
      case 'W':
        if (!opts.watchdog) return error('PCP: informing watchdog info failed', 'watchdog is not enabled');
        return { out: [ok('w', JSON.stringify(opts.watchdog))], close: false };
      case 'B': {
        const params = [
          ['listen_addresses', '127.0.0.1', 'host name(s) or IP address(es) to listen on'],
          ['port', '9999', 'pgpool accepting port number'],
        ];
        const head = Buffer.alloc(4);
        head.writeInt32BE(params.length);
        return {
          out: [
            encodeFrame('b', Buffer.concat([cstrings('ArraySize'), head])),
            ...params.map((p) => encodeFrame('b', cstrings('ProcessConfig', ...p))),
            encodeFrame('b', cstrings('CommandComplete')),
          ],
          close: false,
        };
      }
      default:
        return fatal('PCP processing request', `unknown PCP packet type "${type}"`);
    }
  }

  function handle(socket: Socket): void {
    const id = ++connSeq;
    stats.opened++;
    sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    let salt: Buffer | undefined;
    let authed = false;
    let busy = false;
    const queue: { type: string; payload: Buffer }[] = [];
    socket.on('close', () => {
      stats.closed++;
      sockets.delete(socket);
    });
    socket.on('error', () => socket.destroy());

    const send = (frames: Buffer[], close: boolean, fault: Fault | undefined, done: () => void): void => {
      const data = Buffer.concat(frames);
      const write = (): void => {
        if (socket.destroyed) return;
        switch (fault?.kind) {
          case 'notice-drip': {
            const drip = (): void => {
              if (socket.destroyed) return;
              socket.write(report('N', 'NOTICE', fault.message ?? 'still working'));
              later(drip, fault.everyMs);
            };
            drip();
            return;
          }
          case 'spaced': {
            const rest = [...frames];
            const step = (): void => {
              if (socket.destroyed) return;
              const f = rest.shift();
              if (!f) {
                if (close) socket.end();
                else done();
                return;
              }
              socket.write(f);
              later(step, fault.gapMs);
            };
            step();
            return;
          }
          case 'silence':
            return;
          case 'close':
            socket.destroy();
            return;
          case 'truncate':
            socket.write(data.subarray(0, fault.bytes ?? Math.max(1, Math.floor(data.length / 2))), () => socket.destroy());
            return;
          case 'garbage':
            socket.write(fault.bytes ?? Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
            return;
          case 'error':
            socket.write(report('E', fault.severity, fault.message, fault.detail));
            if (fault.severity === 'FATAL') socket.end();
            else done();
            return;
          case 'notice':
            socket.write(Buffer.concat(fault.messages.map((m) => report('N', fault.severity ?? 'NOTICE', m))));
            break;
          case 'delay':
          case undefined:
            break;
        }
        if (data.length) socket.write(data);
        if (close) socket.end();
        else done();
      };
      if (fault?.kind === 'delay') later(write, fault.ms);
      else write();
    };

    const process1 = (type: string, payload: Buffer, done: () => void): void => {
      const req: PcpRequest = { type, payload, connection: id, authenticated: authed };
      requests.push(req);
      const pending = once_.get(type);
      const fault = pending?.shift() ?? faultFn?.(req);
      if (type === 'X') {
        stats.loggedOut++;
        socket.destroy();
        return;
      }
      if (type === 'M') {
        salt = randomBytes(4);
        return send([encodeFrame('m', salt)], false, fault, done);
      }
      if (type === 'R') {
        const [user, resp] = splitCStrings(payload) ?? [];
        const stored = users.get(user ?? '');
        if (!salt) return send([report('E', 'FATAL', 'authentication failed', 'username and/or password does not match')], true, fault, done);
        const expected = stored ? md5hex(Buffer.concat([Buffer.from(md5hex(stored + user)), salt])) : undefined;
        if (!expected || expected !== resp) {
          stats.authFailures++;
          return send(
            [report('E', 'FATAL', `authentication failed for user "${user ?? ''}"`, 'username and/or password does not match')],
            true,
            fault,
            done,
          );
        }
        authed = true;
        return send([encodeFrame('r', cstrings('AuthenticationOK'))], false, fault, done);
      }
      if (!authed) return send([report('E', 'FATAL', 'authentication failed for new PCP connection', 'connection not authorized')], true, fault, done);
      const r = answer(type, payload);
      send(r.out, r.close, fault, done);
    };

    const pump = (): void => {
      if (busy) return;
      const next = queue.shift();
      if (!next) return;
      busy = true;
      process1(next.type, next.payload, () => {
        busy = false;
        pump();
      });
    };

    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (;;) {
        // pgpool's MAX_PCP_PACKET_LENGTH rule, answered as pgpool does
        const len = decoder.peekLength();
        if (len !== undefined && (len <= 0 || len >= 260)) {
          socket.end(report('E', 'FATAL', 'invalid PCP packet', `incorrect packet length (${len})`));
          return;
        }
        const f = decoder.next();
        if (!f) break;
        if (!f.ok) {
          socket.destroy();
          return;
        }
        queue.push(f.frame);
      }
      pump();
    });
  }

  const server: Server = createServer(handle);
  server.listen(opts.port ?? 0, host);
  await once(server, 'listening');
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('pcp test server has no TCP address');

  return {
    host,
    port: addr.port,
    backends,
    requests,
    stats,
    openConnections: () => sockets.size,
    setFault: (fn) => {
      faultFn = fn;
    },
    faultOnce: (type, fault) => {
      const list = once_.get(type) ?? [];
      list.push(fault);
      once_.set(type, list);
    },
    async waitIdle(timeoutMs = 2_000) {
      const deadline = Date.now() + timeoutMs;
      while (sockets.size > 0) {
        if (Date.now() > deadline) throw new Error(`pcp test server: ${sockets.size} connection(s) still open after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      const closed = once(server, 'close');
      server.close();
      await closed;
    },
  };
}
