import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import { action } from '../run.ts';

/**
 * The console on its own: for a DBA's laptop or a bastion, against the fleet's Redis, without
 * deciding or executing anything (no worker role runs here).
 */
export function register(program: Command): void {
  program
    .command('console')
    .description('serve the read-only audit console (no worker roles): clusters, backends, diagrams, audit timeline, live updates')
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG)')
    .option('--port <port>', 'port to listen on (default: config http.port, $PCPFLOW_HTTP_PORT)')
    .action(
      action(async (opts: { config?: string; port?: string }) => {
        const [{ Registry }, { createMetricsGate }, { createConsole }, { checkServing, loadConfig }, { createLogger }, { createRedis }, { startHttp }] = await Promise.all([
          import('prom-client'),
          import('../../console/auth.ts'),
          import('../../console/routes.ts'),
          import('../../runtime/config.ts'),
          import('../../runtime/logger.ts'),
          import('../../runtime/redis.ts'),
          import('../../workers/http.ts'),
        ]);
        const { path, config } = loadConfig(opts.config);
        checkServing(config, path);
        if (opts.port !== undefined) {
          const port = Number(opts.port);
          if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInputError(`--port: "${opts.port.slice(0, 20)}" is not a port`);
          config.http.port = port;
        }
        const logger = createLogger({ level: config.log.level, name: 'pcpflow-console' });
        const web = createConsole({ config, logger });
        const probe = createRedis(config.redis, 'producer');
        probe.on('error', () => undefined);
        const server = await startHttp({
          host: config.http.host,
          port: config.http.port,
          registry: new Registry(),
          metricsGate: createMetricsGate(config.http),
          ready: async () => (await probe.ping()) === 'PONG',
          routes: web.routes,
        });
        const address = server.address();
        const port = address && typeof address === 'object' ? address.port : config.http.port;
        logger.info({ url: `http://${config.http.host}:${port}/` }, 'console listening');
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            logger.info({ signal }, 'shutting down');
            server.close(() => resolve());
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
        probe.disconnect();
        logger.flush();
        return 0;
      }),
    );
}
