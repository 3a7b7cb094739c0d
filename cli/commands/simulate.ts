import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { action } from '../run.ts';

/** `pcpflow simulate`: the scenario runner (simulation/) loads when the command runs. */
export function register(program: Command): void {
  program
    .command('simulate')
    .description('run a scenario file of hook calls or events through the decision core offline')
    .argument('<file>', 'scenario: hook calls as pcpflow-hook takes them, JSON events, `outcome` and `wait` lines')
    .option('--primary <addr>', "the primary at the start (default: the scenario's `# primary:` line)")
    .option('--config <file>', 'take cluster name, backends and policy from this config')
    .option('--cluster <name>', 'cluster in the config (default: $PCPFLOW_CLUSTER or the only one)')
    .option('--detach-healthy-primary', 'policy: carry out EFM detaches of a primary (default: the config, else off)')
    .option('--json', 'one JSON line per decision entry')
    .action(
      action(async (file: string, opts: { primary?: string; config?: string; cluster?: string; detachHealthyPrimary?: boolean; json?: boolean }) => {
        const [{ ScenarioError, parseScenario, clusterFor, runScenario, formatRowsJson, formatRowsTable }, { loadConfig, selectCluster }] = await Promise.all([
          import('../../simulation/index.ts'),
          import('../../runtime/config.ts'),
        ]);
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          throw new ScenarioError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, undefined, { cause: err });
        }
        const sc = parseScenario(text);
        const config = opts.config ? selectCluster(loadConfig(opts.config).config, opts.cluster) : undefined;
        const setup = clusterFor(sc, {
          ...(opts.primary ? { primary: opts.primary } : {}),
          ...(config ? { config } : {}),
          ...(opts.detachHealthyPrimary ? { detachHealthyPrimary: true } : {}),
        });
        const result = runScenario(sc, setup);
        process.stdout.write(opts.json ? formatRowsJson(result.rows) : formatRowsTable(result.rows, result.snapshot));
        return 0;
      }),
    );
}
