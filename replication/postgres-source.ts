import pg from 'pg';
import { parseAddress } from '../contracts/address.ts';
import type { StreamCheck } from '../contracts/config.ts';
import { redactText } from '../runtime/redact.ts';
import { type StreamProbe, type StreamSource, type StreamWatch } from './source.ts';
import { StreamProbeError } from './errors.ts';

type PgSettings = NonNullable<StreamCheck['postgres']>;

// On a standby: whom its WAL receiver streams from, on which timeline. Needs pg_monitor (or
// pg_read_all_stats) for sender_host and sender_port.
const RECEIVER_SQL =
  'select r.status, r.sender_host, r.sender_port, r.received_tli, pg_last_wal_replay_lsn()::text as replayed, ' +
  '(pg_last_wal_replay_lsn() >= $1::pg_lsn) as caught_up from pg_stat_wal_receiver r';
// On the primary: out of recovery, and the timeline it writes, which its standbys must replay.
const PRIMARY_SQL =
  "select pg_is_in_recovery() as recovery, case when pg_is_in_recovery() then null else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end as tli, " +
  'case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as lsn';

interface ReceiverRow {
  status: string | null;
  sender_host: string | null;
  sender_port: number | null;
  received_tli: number | null;
  replayed: string | null;
  caught_up: boolean | null;
}
type Query = <T>(address: string, text: string, values?: string[]) => Promise<T[]>;

interface PrimaryRow {
  recovery: boolean;
  tli: number | null;
  lsn: string | null;
}

/**
 * Asks PostgreSQL through a real client (node-postgres): the standby's pg_stat_wal_receiver must
 * show it streaming from the primary's address and port, on the timeline the primary writes, and
 * it must have replayed up to where the primary was when asked. A standby still pointed at the
 * old primary, one on a forked timeline, or one still catching up fails one of them.
 */
export class PostgresStreamSource implements StreamSource {
  readonly name = 'postgres' as const;

  constructor(
    private readonly settings: PgSettings,
    private readonly password: string | undefined,
  ) {}

  watch(standby: string, primary: string): StreamWatch {
    // One connection to each side for the whole wait: a look is then two short queries, so
    // polling every few tens of ms costs nothing, and the attach follows streaming closely.
    const sessions = new Map<string, Promise<pg.Client>>();
    const session = (address: string): Promise<pg.Client> => {
      let c = sessions.get(address);
      if (!c) {
        c = this.connect(address);
        sessions.set(address, c);
        c.catch(() => sessions.delete(address));
      }
      return c;
    };
    const query = async <T>(address: string, text: string, values: string[] = []): Promise<T[]> => {
      try {
        const client = await session(address);
        return (await client.query(text, values)).rows as T[];
      } catch (err) {
        // Drop the session: the next look reconnects (the node may be restarting for its re-point).
        const c = sessions.get(address);
        sessions.delete(address);
        void c?.then((x) => x.end()).catch(() => undefined);
        const why = redactText(err instanceof Error ? err.message : String(err));
        throw new StreamProbeError(`PostgreSQL at ${address} could not be asked as ${this.settings.user}: ${why}`, { cause: err });
      }
    };
    return {
      look: (signal) => this.probe(standby, primary, signal, query),
      close: async () => {
        const all = [...sessions.values()];
        sessions.clear();
        await Promise.all(all.map((c) => c.then((x) => x.end()).catch(() => undefined)));
      },
    };
  }

  private async connect(address: string): Promise<pg.Client> {
    const a = parseAddress(address);
    if (!a) throw new StreamProbeError(`"${address.slice(0, 80)}" is not host or host:port`);
    const client = new pg.Client({
      host: a.host,
      port: a.port ?? 5432,
      user: this.settings.user,
      database: this.settings.database,
      ...(this.password !== undefined ? { password: this.password } : {}),
      connectionTimeoutMillis: this.settings.connectTimeoutMs,
      query_timeout: this.settings.connectTimeoutMs,
      application_name: 'pcpflow-stream-check',
      ssl: this.settings.ssl === 'require' ? { rejectUnauthorized: true } : false,
    });
    // A server that goes away between looks must not crash the worker; the next query fails instead.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  private async probe(standby: string, primary: string, signal: AbortSignal, query: Query): Promise<StreamProbe> {
    if (signal.aborted) throw new StreamProbeError('the wait was aborted');
    const p = parseAddress(primary);
    if (!p) throw new StreamProbeError(`"${primary.slice(0, 80)}" is not host or host:port`);
    // The primary first: a standby that has replayed up to the position the primary had a moment
    // before holds every row committed before the look started. Streaming alone is not enough:
    // right after a re-point it streams, but still replays what it missed.
    const q = (await query<PrimaryRow>(primary, PRIMARY_SQL))[0];
    if (!q || q.recovery || q.tli === null || q.lsn === null) return { streaming: false, seen: `${primary} is still in recovery` };
    const r = (await query<ReceiverRow>(standby, RECEIVER_SQL, [q.lsn]))[0];
    if (!r || r.status === null) return { streaming: false, seen: `${standby} has no WAL receiver (it follows nobody)` };
    const from = `${r.sender_host ?? '?'}:${r.sender_port ?? '?'}`;
    const samePrimary = r.sender_host === p.host && r.sender_port === (p.port ?? 5432);
    const seen =
      `pg_stat_wal_receiver on ${standby}: ${r.status} from ${from} on timeline ${r.received_tli ?? '?'}, replayed to ${r.replayed ?? '?'} ` +
      `(primary ${primary} writes timeline ${q.tli}, at ${q.lsn})`;
    return { streaming: r.status === 'streaming' && samePrimary && r.received_tli === q.tli && r.caught_up === true, seen };
  }
}
