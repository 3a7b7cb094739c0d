/**
 * Base of every error pcpflow raises on purpose. `message` tells a DBA what happened and what
 * to do; `exitCode` is what a CLI entry point exits with when this error ends it.
 * Messages must never contain a secret: build them from validated, non-secret values only.
 */
export abstract class PcpflowError extends Error {
  abstract readonly code: string;
  readonly exitCode: number = 1;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that can never succeed: bad argv, bad config, bad payload. Exit code 2 by contract. */
export class InvalidInputError extends PcpflowError {
  readonly code: string = 'INVALID_INPUT';
  override readonly exitCode = 2;
  constructor(
    message: string,
    readonly problems: readonly string[] = [message],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An address that names no configured backend, or several: exit 2, with what to do about it. */
export class BackendResolutionError extends InvalidInputError {
  override readonly code: string = 'BACKEND_UNRESOLVED';
  constructor(
    message: string,
    readonly kind: 'ambiguous' | 'unknown' | 'invalid',
    options?: { cause?: unknown },
  ) {
    super(message, undefined, options);
  }
}
