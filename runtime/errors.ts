import { InvalidInputError, PcpflowError } from '../contracts/errors.ts';

/** The config file is missing, unreadable or invalid, or names no such cluster: exit 2 with every problem. */
export class ConfigError extends InvalidInputError {
  override readonly code = 'CONFIG_INVALID';
}

/** A secret the config refers to (env var or file) is not there or not readable. */
export class SecretUnavailableError extends InvalidInputError {
  override readonly code = 'SECRET_UNAVAILABLE';
}

/** Redis did not answer a pcpflow command within redis.connectTimeoutMs: exit 4, like pgpool unreachable. */
export class RedisUnreachableError extends PcpflowError {
  readonly code = 'REDIS_UNREACHABLE';
  override readonly exitCode = 4;
}

/** A small file a hook or the worker reads (config, secret, TLS material) is not a regular file within its size bound. */
export class BoundedReadError extends PcpflowError {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
