import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import { NodeEventSchema, type NodeEvent } from '../../contracts/events.ts';
import { decide, decodeSnapshot, formatVerify, initialSnapshot, parseAuditLines, policyOf, verifyDecisions, type ClusterSnapshot } from '../../machines/index.ts';
import { loadConfig, selectCluster } from '../../runtime/config.ts';
import { action } from '../run.ts';
import { canonicalBackends, formatRowsJson, formatRowsTable, rowsOf, type DecisionRow } from './simulate.ts';

/**
 * `pcpflow replay`: recorded events back through `decide`, offline. Lines are NodeEvents or audit
 * records whose payload is one (the decider stores the event in the first record of each
 * decision); other lines are skipped. Each event is decided at the time it was recorded, so the
 * dedupe window behaves as it did in production.
 */

export function eventsFrom(text: string): Array<{ event: NodeEvent; at: Date; line: number }> {
  const out: Array<{ event: NodeEvent; at: Date; line: number }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    let json: unknown;
    try {
      json = JSON.parse(t);
    } catch {
      throw new InvalidInputError(`line ${i + 1}: not JSON`);
    }
    const rec = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
    const direct = NodeEventSchema.safeParse(json);
    const viaPayload = direct.success ? direct : NodeEventSchema.safeParse(rec.payload);
    if (!viaPayload.success) return;
    const at = typeof rec.at === 'string' && !Number.isNaN(Date.parse(rec.at)) ? new Date(rec.at) : new Date(viaPayload.data.observedAt);
    out.push({ event: viaPayload.data, at, line: i + 1 });
  });
  return out;
}

export function replay(snapshot: ClusterSnapshot, events: ReturnType<typeof eventsFrom>): { rows: DecisionRow[]; snapshot: ClusterSnapshot } {
  const rows: DecisionRow[] = [];
  let s = snapshot;
  for (const { event, at, line } of events) {
    const d = decide(s, event, at);
    s = d.snapshot;
    rows.push(...rowsOf(line, event, d));
  }
  return { rows, snapshot: s };
}

export function register(program: Command): void {
  program
    .command('replay')
    .description('feed recorded events (JSON lines of events or audit records) through the decision core offline')
    .argument('<file>', 'JSON lines: NodeEvents, or audit records carrying the event as payload')
    .option('--snapshot <file>', 'start from this encoded cluster snapshot')
    .option('--config <file>', 'start from the backends of this config (needs --primary)')
    .option('--cluster <name>', 'cluster in the config')
    .option('--primary <addr>', 'the primary at the start when no snapshot is given')
    .option('--json', 'one JSON line per decision entry')
    .option('--verify', 'FILE is an exported audit: decide every event again from its recorded snapshot; exit 1 naming the first decision that differs')
    .action(
      action((file: string, opts: { snapshot?: string; config?: string; cluster?: string; primary?: string; json?: boolean; verify?: boolean }) => {
        const read = (f: string): string => {
          try {
            return readFileSync(f, 'utf8');
          } catch (err) {
            throw new InvalidInputError(`${f}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, undefined, { cause: err });
          }
        };
        if (opts.verify) {
          const result = verifyDecisions(parseAuditLines(read(file)));
          process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : formatVerify(result));
          if (result.difference === null && result.identical === 0) {
            process.stderr.write(`${file}: no decision recorded with its snapshot; nothing could be verified\n`);
            return 1;
          }
          return result.difference === null ? 0 : 1;
        }
        const events = eventsFrom(read(file));
        if (events.length === 0) throw new InvalidInputError(`${file}: no events found`);
        let start: ClusterSnapshot;
        if (opts.snapshot) start = decodeSnapshot(read(opts.snapshot));
        else {
          const config = opts.config ? selectCluster(loadConfig(opts.config).config, opts.cluster) : undefined;
          if (!opts.primary) throw new InvalidInputError('give --snapshot FILE, or --primary ADDR (with --config or the addresses the events name)');
          const first = events[0]?.event;
          const addresses = config
            ? config.backends.map((b) => `${b.address}:${b.port}`)
            : canonicalBackends([opts.primary, ...events.flatMap((e) => (e.event.backend ? [e.event.backend] : []))]);
          const primary = canonicalBackends([opts.primary])[0];
          start = initialSnapshot({
            cluster: config?.name ?? first?.cluster ?? 'replay',
            backends: addresses.map((address) => ({ address, role: address === primary || address.split(':')[0] === opts.primary ? 'primary' : 'standby', attached: true })),
            ...(config ? { policy: policyOf(config.fence) } : {}),
          });
        }
        const result = replay(start, events);
        process.stdout.write(opts.json ? formatRowsJson(result.rows) : formatRowsTable(result.rows, result.snapshot));
        return 0;
      }),
    );
}
