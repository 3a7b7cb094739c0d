
/** What one look at a standby found: whether it streams from the primary, and what was seen. */
export interface StreamProbe {
  streaming: boolean;
  /** One clause for the audit: what the source showed, e.g. "pg_stat_wal_receiver: streaming from 127.0.0.12:5432 on timeline 2". */
  seen: string;
}

/**
 * A place pcpflow can ask whether a standby streams from a given primary: pgpool's replication
 * state (its sr_check) or PostgreSQL itself. `primary` is the backend address (`host:port`).
 */
export interface StreamSource {
  readonly name: 'pgpool' | 'postgres';
  /** One wait: a source may remember what it saw earlier in the same wait. */
  watch(standby: string, primary: string): StreamWatch;
}

export interface StreamWatch {
  look(signal: AbortSignal): Promise<StreamProbe>;
  /** Ends the wait: closes whatever the watch kept open. */
  close?(): Promise<void>;
}

