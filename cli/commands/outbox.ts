import type { Command } from 'commander';
import type { Config } from '../../contracts/config.ts';
import { DEFAULT_CONFIG_PATH, loadHookConfig, selectHookCluster } from '../../hooks/config.ts';
import { deliverPending } from '../../hooks/deliver.ts';
import { OutboxReadError, RedisUnavailableError } from '../../hooks/errors.ts';
import { listPending } from '../../hooks/outbox.ts';
import { cleanStaleTmp, scanOutbox, type OutboxScan } from '../../hooks/outbox-scan.ts';
import { connectRedis } from '../../hooks/connect.ts';
import { RedisUnreachableError } from '../../runtime/errors.ts';
import { redisWhere } from '../../runtime/redis-errors.ts';
import { action } from '../run.ts';

/**
 * The outbox is the hooks' machinery, so these commands read the config as the hooks do
 * (hooks/config.ts, zod/mini): the timer's flush starts in a few ms. That reader is as strict as
 * the worker's (a config the worker rejects is rejected here too, with the same problems named),
 * so a bad config shows up at once on every path rather than only at the worker's restart.
 */
function loadConfig(flag: string | undefined): Promise<{ config: Config }> {
  return loadHookConfig(flag ?? process.env.PCPFLOW_CONFIG ?? DEFAULT_CONFIG_PATH, process.env);
}

interface OutboxOptions {
  config?: string;
  cluster?: string;
  timeoutMs: string;
}

/**
 * `pcpflow outbox flush`: delivers what hooks spooled while Redis was unreachable, oldest first,
 * through the same idempotent publish script the hooks use (so a flush racing a hook, or re-run
 * after a crash, never appends an event twice). Run by deploy/pcpflow-outbox.timer.
 * Exit 0 when every outbox is empty afterwards, 1 when Redis could not be reached or events remain.
 */
export function register(program: Command): void {
  const outbox = program
    .command('outbox')
    .description("the hooks' local outbox of events spooled while Redis was unreachable");
  outbox
    .command('flush')
    .description('deliver spooled events to Redis in order, each exactly once')
    .option('--config <file>', 'config file (default: PCPFLOW_CONFIG or /etc/pcpflow/pcpflow.yaml)')
    .option('--cluster <name>', 'only this cluster (default: every configured cluster)')
    .option('--timeout-ms <ms>', 'overall time budget', '60000')
    .action(
      action(async (opts: OutboxOptions) => {
        const { config } = await loadConfig(opts.config);
        const clusters = opts.cluster ? [selectHookCluster(config, opts.cluster)] : config.clusters;
        const budget = Number(opts.timeoutMs);
        const deadlineAt = Date.now() + (Number.isFinite(budget) && budget > 0 ? budget : 60_000);
        let remaining = 0;
        for (const c of clusters) {
          let waiting: number;
          try {
            waiting = listPending(config.outbox.dir, c.name).length;
          } catch (err) {
            throw new OutboxReadError(
              `cannot list the outbox ${config.outbox.dir}/${c.name} (${(err as NodeJS.ErrnoException).code ?? String(err)}); run flush as a member of the outbox group`,
              { cause: err },
            );
          }
          if (waiting === 0) {
            const stale = cleanStaleTmp(config.outbox.dir, c.name);
            process.stdout.write(`${c.name}: outbox empty${stale ? `; stale temp files removed ${stale}` : ''}\n`);
            continue;
          }
          const client = await connectRedis(
            config.redis,
            process.env,
            Math.min(deadlineAt, Date.now() + config.redis.connectTimeoutMs),
          ).catch((err: unknown) => {
            throw new RedisUnreachableError(
              `${redisWhere(config.redis)} is unreachable: ${err instanceof Error ? err.message : String(err)}; ${listPending(config.outbox.dir, c.name).length} event(s) stay in the outbox`,
              { cause: err },
            );
          });
          try {
            client.setDeadline(deadlineAt);
            const r = await deliverPending(client, {
              prefix: config.redis.keyPrefix,
              cluster: c.name,
              dir: config.outbox.dir,
              deadlineAt,
              maxEvents: Number.MAX_SAFE_INTEGER,
            });
            remaining += r.remaining;
            for (const note of r.notes) process.stderr.write(`pcpflow: ${c.name}: ${note}\n`);
            process.stdout.write(
              `${c.name}: delivered ${r.appended}, already delivered ${r.duplicates}, quarantined ${r.quarantined}, skipped ${r.skipped}, stale temp files removed ${r.staleTmp}, remaining ${r.remaining}\n`,
            );
          } finally {
            client.close();
          }
        }
        if (remaining > 0)
          throw new RedisUnavailableError(
            `${remaining} event(s) remain in the outbox; the time budget ran out`,
          );
      }),
    );
  outbox
    .command('status')
    .description("what waits in each cluster's outbox, what was quarantined and why, and how old")
    .option('--config <file>', 'config file')
    .option('--cluster <name>', 'only this cluster (default: every configured cluster)')
    .option('--json', 'print JSON')
    .action(
      action(async (opts: { config?: string; cluster?: string; json?: boolean }) => {
        const { config } = await loadConfig(opts.config);
        const clusters = opts.cluster ? [selectHookCluster(config, opts.cluster)] : config.clusters;
        const scans = clusters.map((c) => scanOutbox(config.outbox.dir, c.name));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(scans, null, 2)}\n`);
        } else {
          for (const s of scans) process.stdout.write(formatScan(s));
        }
        return scans.some((s) => s.error !== undefined) ? 1 : 0;
      }),
    );
}

const age = (ms: number) =>
  ms < 120_000 ? `${Math.round(ms / 1000)}s` : ms < 7_200_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 3_600_000)}h`;

function formatScan(s: OutboxScan): string {
  const lines = [
    `${s.cluster}: ${s.pending.length} spooled` +
      (s.pending[0] ? ` (oldest ${age(Math.max(...s.pending.map((p) => p.ageMs)))})` : '') +
      `, ${s.quarantined.length} quarantined, ${s.tmp.length} temp file(s) in ${s.dir}`,
  ];
  if (s.error) lines.push(`  error: ${s.error}`);
  for (const q of s.quarantined) lines.push(`  quarantined ${q.name} (${age(q.ageMs)} ago): ${q.reason}`);
  for (const t of s.tmp) lines.push(`  temp file ${t.name} (${age(t.ageMs)} old; removed by the next delivery once stale)`);
  return `${lines.join('\n')}\n`;
}
