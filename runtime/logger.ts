import { pino, type Logger, type LevelWithSilent } from 'pino';
import { redactText, redactValue, SECRET_KEYS } from './redact.ts';

export type { Logger };

/**
 * JSON lines by default (for journald and log shippers); human-readable when stderr is a TTY.
 * Logs go to stderr so stdout stays clean for command output (`--json`).
 * Redaction runs twice: pino's path-based redact for known secret keys, and a formatter that
 * masks registered secret values anywhere in the line.
 */
export function createLogger(opts: { level?: LevelWithSilent; name?: string; pretty?: boolean } = {}): Logger {
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const paths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  return pino(
    {
      name: opts.name ?? 'pcpflow',
      level: opts.level ?? (process.env.PCPFLOW_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info',
      redact: { paths, censor: '[REDACTED]' },
      formatters: { log: (obj) => redactValue(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as Parameters<typeof method>;
          method.apply(this, masked);
        },
      },
    },
    pretty
      ? pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true } })
      : pino.destination({ dest: 2, sync: true }),
  );
}
