import type { Command } from 'commander';
import { checkServing, loadConfig } from '../../runtime/config.ts';
import { action } from '../run.ts';

export function register(program: Command): void {
  const config = program.command('config').description('inspect the pcpflow configuration');
  config
    .command('check')
    .description('validate the config file and the files it names; print every problem with its path (exit 2 on error)')
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG or /etc/pcpflow/pcpflow.yaml)')
    .action(
      action((opts: { config?: string }) => {
        const { path, config: cfg } = loadConfig(opts.config);
        checkServing(cfg, path);
        const backends = cfg.clusters.reduce((n, c) => n + c.backends.length, 0);
        process.stdout.write(`${path}: ok (${cfg.clusters.length} cluster(s), ${backends} backend(s))\n`);
        return 0;
      }),
    );
}
