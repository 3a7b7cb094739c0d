import type { Command } from 'commander';
import { action } from '../run.ts';

export function register(program: Command): void {
  const config = program.command('config').description('inspect the pcpflow configuration');
  config
    .command('check')
    .description('validate the config file and the files it names; print every problem with its path (exit 2 on error)')
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG or /etc/pcpflow/pcpflow.yaml)')
    .option('--no-stream-check', "do not ask pgpool for its sr_check settings (how standbys come back after a promotion)")
    .action(
      action(async (opts: { config?: string; streamCheck?: boolean }) => {
        const { checkServing, loadConfig } = await import('../../runtime/config.ts');
        const { path, config: cfg } = loadConfig(opts.config);
        checkServing(cfg, path);
        const backends = cfg.clusters.reduce((n, c) => n + c.backends.length, 0);
        process.stdout.write(`${path}: ok (${cfg.clusters.length} cluster(s), ${backends} backend(s))\n`);
        if (opts.streamCheck === false) return 0;
        const { createPcpOps } = await import('../../pcp/index.ts');
        const { chooseStreamSource } = await import('../../replication/choose.ts');
        // How standbys come back after a promotion is a property of the config and of pgpool's
        // sr_check settings together: say it here, before a failover finds out.
        for (const c of cfg.clusters) {
          const choice = await chooseStreamSource(c, createPcpOps(c), AbortSignal.timeout(3_000)).catch((err: unknown) => ({
            kind: 'unavailable' as const,
            note: `cluster ${c.name}: ${err instanceof Error ? err.message : String(err)}`,
          }));
          process.stdout.write(`${choice.kind === 'source' ? 'stream check' : 'warning'}: ${choice.note}\n`);
        }
        return 0;
      }),
    );
}
