import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { InvalidInputError } from '../../contracts/errors.ts';
import { ALL_ROLES, type Role } from '../../workers/roles.ts';
import { action } from '../run.ts';

function parseRoles(text: string): Role[] {
  const roles = text.split(',').map((r) => r.trim()).filter(Boolean);
  for (const r of roles)
    if (!(ALL_ROLES as readonly string[]).includes(r)) throw new InvalidInputError(`--roles: unknown role "${r.slice(0, 40)}"; use ${ALL_ROLES.join(', ')}`);
  if (roles.length === 0) throw new InvalidInputError('--roles: give at least one role');
  return roles as Role[];
}

/**
 * A worker's live heap is small (about 32 MB with 1,000 clusters), but V8 lets the old generation
 * grow to up to four times the live size between full collections when collecting looks cheap:
 * a storm of events left 220-250 MB resident, mostly garbage. Growing by 30% of the live size
 * keeps it near 140 MB, for more frequent full collections that cost no measurable CPU per event
 * (README, Benchmarks). V8 reads the flag at every collection, so setting it here is enough and
 * the worker needs no node flag in its unit, image or bench.
 */
function limitHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=30');
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('run one fleet member: decider, executor and reconciler roles, with /healthz, /readyz and /metrics')
    .option('--config <file>', 'config file (default: $PCPFLOW_CONFIG)')
    .option('--roles <list>', `comma-separated roles (${ALL_ROLES.join(',')})`, ALL_ROLES.join(','))
    .option('--http-port <port>', 'port for /healthz, /readyz, /metrics and the console (default: config http.port, $PCPFLOW_HTTP_PORT)')
    .option('--no-http', 'do not serve HTTP')
    .option('--shutdown-deadline <ms>', 'on SIGTERM, how long to wait for in-flight work', '10000')
    .action(
      action(async (opts: { config?: string; roles: string; httpPort?: string; http: boolean; shutdownDeadline: string }) => {
        const [{ checkServing, loadConfig }, { createLogger }, { startFleetMember }, { createMetricsGate }, { consoleRoutes }] = await Promise.all([
          import('../../runtime/config.ts'),
          import('../../runtime/logger.ts'),
          import('../../workers/fleet.ts'),
          import('../../console/auth.ts'),
          import('../../console/routes.ts'),
        ]);
        limitHeapGrowth();
        const roles = parseRoles(opts.roles);
        const { path, config } = loadConfig(opts.config);
        if (opts.http) checkServing(config, path);
        if (opts.httpPort !== undefined) {
          const port = Number(opts.httpPort);
          if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInputError(`--http-port: "${opts.httpPort}" is not a port`);
          config.http.port = port;
        }
        const logger = createLogger({ level: config.log.level, name: 'pcpflow-worker' });
        const member = await startFleetMember({
          config,
          roles,
          logger,
          http: opts.http,
          metricsGate: createMetricsGate(config.http),
          routes: (ctx) => consoleRoutes({ config, audit: ctx.audit }),
        });
        const deadlineMs = Number(opts.shutdownDeadline);
        if (!Number.isInteger(deadlineMs) || deadlineMs <= 0) throw new InvalidInputError(`--shutdown-deadline: "${opts.shutdownDeadline.slice(0, 20)}" is not a positive number of milliseconds`);
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            logger.info({ signal, deadlineMs }, 'shutting down');
            // Whatever still holds the event loop after the deadline (a reconnect timer to a Redis
            // that is down, a blocked BullMQ call) must not keep the worker alive until SIGKILL.
            setTimeout(() => {
              logger.error({ deadlineMs }, 'shutdown deadline passed with work still open; exiting');
              process.exit(1);
            }, deadlineMs + 1_000).unref();
            void member.stop(deadlineMs).then(resolve);
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
        logger.info('stopped');
        logger.flush();
        // Open sockets to an unreachable Redis would otherwise keep the process running.
        process.exit(0);
      }),
    );
}
