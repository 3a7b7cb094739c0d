import pg from 'pg';
import { parseAddress } from '../contracts/address.ts';
import type { StreamCheck } from '../contracts/config.ts';
import { redactText } from '../runtime/redact.ts';
import { StreamProbeError, type StreamProbe, type StreamSource, type StreamWatch } from './source.ts';

type PgSettings = NonNullable<StreamCheck['postgres']>;

// On a standby: whom its WAL receiver streams from, on which timeline. Needs pg_monitor (or
// pg_read_all_stats) for sender_host and sender_port.
const RECEIVER_SQL = 'select status, sender_host, sender_port, received_tli from pg_stat_wal_receiver';
// On the primary: out of recovery, and the timeline it writes, which its standbys must replay.
const PRIMARY_SQL =
  "select pg_is_in_recovery() as recovery, case when pg_is_in_recovery() then null else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end as tli";

interface ReceiverRow {
  status: string | null;
  sender_host: string | null;
  sender_port: number | null;
  received_tli: number | null;
}
interface PrimaryRow {
  recovery: boolean;
  tli: number | null;
}

/**
 * Asks PostgreSQL through a real client (node-postgres): the standby's pg_stat_wal_receiver must
 * show it streaming from the primary's address and port, on the timeline the primary writes. A
 * standby still pointed at the old primary, or one that found itself on a forked timeline, fails
 * one of the three. One short connection per look: a wait lasts seconds, a pool would outlive it.
 */
export class PostgresStreamSource implements StreamSource {
  readonly name = 'postgres' as const;

  constructor(
    private readonly settings: PgSettings,
    private readonly password: string | undefined,
  ) {}

  private async query<T>(address: string, text: string, signal: AbortSignal): Promise<T[]> {
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
    const abort = () => void client.end().catch(() => undefined);
    signal.addEventListener('abort', abort, { once: true });
    try {
      await client.connect();
      const r = await client.query(text);
      return r.rows as T[];
    } catch (err) {
      const why = redactText(err instanceof Error ? err.message : String(err));
      throw new StreamProbeError(`PostgreSQL at ${address} could not be asked as ${this.settings.user}: ${why}`, { cause: err });
    } finally {
      signal.removeEventListener('abort', abort);
      await client.end().catch(() => undefined);
    }
  }

  watch(standby: string, primary: string): StreamWatch {
    return { look: (signal) => this.probe(standby, primary, signal) };
  }

  private async probe(standby: string, primary: string, signal: AbortSignal): Promise<StreamProbe> {
    const p = parseAddress(primary);
    if (!p) throw new StreamProbeError(`"${primary.slice(0, 80)}" is not host or host:port`);
    const [receiver, prim] = await Promise.all([
      this.query<ReceiverRow>(standby, RECEIVER_SQL, signal),
      this.query<PrimaryRow>(primary, PRIMARY_SQL, signal),
    ]);
    const r = receiver[0];
    const q = prim[0];
    if (!q || q.recovery || q.tli === null) return { streaming: false, seen: `${primary} is still in recovery` };
    if (!r || r.status === null) return { streaming: false, seen: `${standby} has no WAL receiver (it follows nobody)` };
    const from = `${r.sender_host ?? '?'}:${r.sender_port ?? '?'}`;
    const samePrimary = r.sender_host === p.host && r.sender_port === (p.port ?? 5432);
    const seen = `pg_stat_wal_receiver on ${standby}: ${r.status} from ${from} on timeline ${r.received_tli ?? '?'} (primary ${primary} writes timeline ${q.tli})`;
    return { streaming: r.status === 'streaming' && samePrimary && r.received_tli === q.tli, seen };
  }
}
