import pg from 'pg';

/**
 * A writer and a read-after-write reader through pgpool, as an application sees the cluster.
 * The writer inserts an increasing id every `writeEveryMs`; each read opens a new session (pgpool
 * picks the load-balance node per session) and asks for the highest id it can see. A read is
 * stale when it misses a row whose commit was acknowledged more than `graceMs` before the read
 * started and that the new primary still has at the end: a healthy streaming standby replays
 * within milliseconds, one still following the dead primary never does. Rows acknowledged by the
 * dead primary but never shipped (asynchronous replication, immediate stop) are lost writes,
 * counted apart: EFM's trade, not a stale read. Errors (no primary yet, sessions refused during
 * the failover) are unavailability, not stale data.
 */
export interface ReadProbeReport {
  writes: number;
  writeErrors: number;
  /** Acknowledged by the old primary, absent from the new one: lost in the crash. */
  lostWrites: number;
  reads: number;
  readErrors: number;
  stale: number;
  /** Reads per backend address that served them, stale ones in brackets. */
  byServer: Record<string, { reads: number; stale: number }>;
  firstStale: string | null;
  /** When each stale read started, in seconds since the probe started. */
  staleAt: number[];
}

export interface ReadProbe {
  stop(): Promise<ReadProbeReport>;
}

const TABLE = 'pcpflow_drill_reads';

// Probes still running: a drill that fails midway stops them on its way out.
const open = new Set<ReadProbe>();

export async function stopOpenProbes(): Promise<void> {
  await Promise.all([...open].map((p) => p.stop()));
}

export async function startReadProbe(pgpool: { host: string; port: number }, opts: { writeEveryMs?: number; readEveryMs?: number; graceMs?: number } = {}): Promise<ReadProbe> {
  const conn = { host: pgpool.host, port: pgpool.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 3_000, query_timeout: 5_000 };
  const setup = new pg.Client(conn);
  await setup.connect();
  try {
    await setup.query(`create table if not exists ${TABLE} (id bigint primary key, at timestamptz default now())`);
    await setup.query(`truncate ${TABLE}`);
  } finally {
    await setup.end();
  }
  // A healthy standby on a loaded 2-core machine was seen 0.55 s behind; one that follows the dead
  // primary misses every row written after the failover, for as long as it is not re-pointed.
  const graceMs = opts.graceMs ?? 1_000;
  const t0 = performance.now();
  const acked: { id: number; at: number }[] = [];
  const report: ReadProbeReport = { writes: 0, writeErrors: 0, reads: 0, readErrors: 0, stale: 0, byServer: {}, firstStale: null, staleAt: [], lostWrites: 0 };
  const seenReads: { started: number; seen: number; server: string }[] = [];
  let running = true;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const writer = (async () => {
    let id = 0;
    let client: pg.Client | null = null;
    while (running) {
      try {
        if (!client) {
          client = new pg.Client(conn);
          client.on('error', () => undefined);
          await client.connect();
        }
        id += 1;
        await client.query(`insert into ${TABLE} (id) values ($1)`, [id]);
        acked.push({ id, at: performance.now() });
        report.writes += 1;
      } catch {
        report.writeErrors += 1;
        await client?.end().catch(() => undefined);
        client = null;
      }
      await pause(opts.writeEveryMs ?? 50);
    }
    await client?.end().catch(() => undefined);
  })();

  const reader = (async () => {
    while (running) {
      const started = performance.now();
      const client = new pg.Client(conn);
      client.on('error', () => undefined);
      try {
        await client.connect();
        const r = await client.query<{ m: string; a: string | null; p: number | null }>(
          `select coalesce(max(id), 0)::text as m, host(inet_server_addr()) as a, inet_server_port() as p from ${TABLE}`,
        );
        const row = r.rows[0];
        const server = `${row?.a ?? '?'}:${row?.p ?? '?'}`;
        const slot = (report.byServer[server] ??= { reads: 0, stale: 0 });
        slot.reads += 1;
        report.reads += 1;
        seenReads.push({ started, seen: Number(row?.m ?? 0), server });
      } catch {
        report.readErrors += 1;
      } finally {
        await client.end().catch(() => undefined);
      }
      await pause(opts.readEveryMs ?? 50);
    }
  })();

  const probe: ReadProbe = {
    async stop() {
      running = false;
      open.delete(probe);
      await Promise.all([writer, reader]);
      // Judged at the end, against what the primary kept: the newest surviving row acknowledged
      // more than graceMs before a read must be visible to it.
      const kept = await survivors(conn);
      const surviving = acked.filter((a) => kept.has(a.id));
      report.lostWrites = acked.length - surviving.length;
      for (const r of seenReads) {
        const due = [...surviving].reverse().find((a) => a.at <= r.started - graceMs);
        if (!due || r.seen >= due.id) continue;
        report.stale += 1;
        const slot = report.byServer[r.server];
        if (slot) slot.stale += 1;
        report.staleAt.push(Math.round((r.started - t0) / 100) / 10);
        report.firstStale ??= `${r.server} returned max id ${r.seen} while id ${due.id} was committed ${Math.round(r.started - due.at)} ms before the read`;
      }
      return report;
    },
  };
  open.add(probe);
  return probe;
}

async function survivors(conn: pg.ClientConfig): Promise<Set<number>> {
  const client = new pg.Client(conn);
  client.on('error', () => undefined);
  await client.connect();
  try {
    // Through pgpool, FOR UPDATE: pgpool never balances it, and a standby would refuse it.
    const r = await client.query<{ id: string }>(`select id::text as id from ${TABLE} for update`);
    return new Set(r.rows.map((x) => Number(x.id)));
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function formatReadReport(r: ReadProbeReport): string {
  const servers = Object.entries(r.byServer)
    .map(([s, x]) => `${s} ${x.reads}${x.stale ? ` (${x.stale} stale)` : ''}`)
    .join(', ');
  return (
    `stale reads: ${r.stale} of ${r.reads} (target 0); writes ${r.writes} (${r.writeErrors} refused during the failover, ` +
    `${r.lostWrites} acknowledged by the dead primary and lost with it), ` +
    `reads refused ${r.readErrors}; reads served by ${servers || 'none'}` +
    `${r.firstStale ? `; first stale: ${r.firstStale}; stale reads at ${r.staleAt.slice(0, 20).join(', ')} s` : ''}`
  );
}
