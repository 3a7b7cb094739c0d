import { PcpflowError } from '../contracts/errors.ts';
import { redactText } from '../runtime/redact.ts';
import { isRedisUnreachable } from '../runtime/redis-errors.ts';

/**
 * Ends a command: a PcpflowError prints its message (and each problem on its own line) and
 * exits with the code its class names; anything else is a bug and exits 1 with the stack.
 * Every line goes through redaction: a library error may echo a URL with a password in it.
 */
export function reportAndExit(err: unknown): never {
  if (err instanceof PcpflowError) {
    const problems = 'problems' in err && Array.isArray(err.problems) ? (err.problems as string[]) : [];
    const lines = problems.length > 1 || (problems[0] !== undefined && problems[0] !== err.message) ? problems : [err.message];
    for (const line of lines) process.stderr.write(`pcpflow: ${redactText(line)}\n`);
    process.exit(err.exitCode);
  }
  if (isRedisUnreachable(err)) {
    // Redis went away after the command connected: one line, the same exit code as unreachable.
    process.stderr.write(`pcpflow: Redis stopped answering: ${redactText(err.message)}\n`);
    process.exit(4);
  }
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`pcpflow: unexpected error: ${redactText(text)}\n`);
  process.exit(1);
}

/** Wraps a commander action so typed errors end the process with their documented exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      reportAndExit(err);
    }
  };
}
