import { connect } from 'node:net';
import { spawnDaemon } from './exec.ts';
import type { LabPlan } from './options.ts';
import { pollUntil } from './wait.ts';

/** The lab's own Redis: its own port, no persistence, so a lab down leaves nothing behind. */
export async function startRedis(plan: LabPlan): Promise<number> {
  return spawnDaemon(
    [
      'redis-server',
      '--bind', plan.redis.host, '--port', String(plan.redis.port),
      '--save', '', '--appendonly', 'no', '--dir', plan.paths.redisDir,
      '--daemonize', 'no', '--protected-mode', 'no',
    ],
    plan.paths.redisLog,
    { cwd: plan.paths.redisDir },
  );
}

/** One PING over a raw socket: no client library needed to know Redis is serving. */
export function ping(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

export async function waitRedisReady(plan: LabPlan): Promise<void> {
  await pollUntil(`redis on ${plan.redis.host}:${plan.redis.port}`, async () => ((await ping(plan.redis.host, plan.redis.port)) ? true : undefined), {
    timeoutMs: plan.stepTimeoutMs,
    logHint: plan.paths.redisLog,
  });
}

export function redisUrl(plan: LabPlan): string {
  return `redis://${plan.redis.host}:${plan.redis.port}`;
}
