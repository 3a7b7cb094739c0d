import type { Command } from 'commander';
import { DEFAULT_CONFIG_PATH, loadHookConfig, selectHookCluster, type HookConfig } from '../../hooks/config.ts';
import { deliverPending } from '../../hooks/deliver.ts';
import { RedisUnavailableError } from '../../hooks/errors.ts';
import { listPending } from '../../hooks/outbox.ts';
import { connectRedis } from '../../hooks/connect.ts';
import { action } from '../run.ts';

/**
 * The outbox is the hooks' machinery, so these commands read the config as the hooks do
 * (hooks/config.ts: Redis, outbox and cluster names, zod/mini): the timer's flush starts in a few
 * ms, and a typo in a PCP timeout never keeps spooled events from being delivered. The rest of
 * the file is `pcpflow config check`'s business.
 */
function loadConfig(flag: string | undefined): Promise<{ config: HookConfig }> {
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
          if (listPending(config.outbox.dir, c.name).length === 0) {
            process.stdout.write(`${c.name}: outbox empty\n`);
            continue;
          }
          const client = await connectRedis(
            config.redis,
            process.env,
            Math.min(deadlineAt, Date.now() + config.redis.publishTimeoutMs),
          );
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
            process.stdout.write(
              `${c.name}: delivered ${r.appended}, already delivered ${r.duplicates}, set aside as corrupt ${r.corrupt}, remaining ${r.remaining}\n`,
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
    .description("how many events wait in each cluster's outbox")
    .option('--config <file>', 'config file')
    .action(
      action(async (opts: { config?: string }) => {
        const { config } = await loadConfig(opts.config);
        for (const c of config.clusters)
          process.stdout.write(
            `${c.name}: ${listPending(config.outbox.dir, c.name).length} pending in ${config.outbox.dir}/${c.name}\n`,
          );
      }),
    );
}
