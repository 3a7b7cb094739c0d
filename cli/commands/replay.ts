import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ClusterConfig } from '../../contracts/config.ts';
import { InvalidInputError } from '../../contracts/errors.ts';
import { action } from '../run.ts';

/** `pcpflow replay`: the replay code (simulation/) and the machines load when the command runs. */
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
      action(async (file: string, opts: { snapshot?: string; config?: string; cluster?: string; primary?: string; json?: boolean; verify?: boolean }) => {
        const [{ eventsFrom, replay, replayStart, formatRowsJson, formatRowsTable }, { decodeSnapshot }, { loadConfig, selectCluster }, { formatVerify, parseAuditLines, verifyDecisions }] = await Promise.all([
          import('../../simulation/index.ts'),
          import('../../machines/index.ts'),
          import('../../runtime/config.ts'),
          import('../../audit/verify.ts'),
        ]);
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
        const config = (): { config?: ClusterConfig } => (opts.config ? { config: selectCluster(loadConfig(opts.config).config, opts.cluster) } : {});
        const start = opts.snapshot ? decodeSnapshot(read(opts.snapshot)) : replayStart(events, { ...(opts.primary ? { primary: opts.primary } : {}), ...config() });
        const result = replay(start, events);
        process.stdout.write(opts.json ? formatRowsJson(result.rows) : formatRowsTable(result.rows, result.snapshot));
        return 0;
      }),
    );
}
