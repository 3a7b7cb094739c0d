import { createServer } from 'node:net';
import { LabConflictError } from './errors.ts';

/** Resolves true when nothing listens on host:port (we could bind it ourselves). */
export function isFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Fails early, naming every taken address, instead of a server dying later with a log to dig in. */
export async function assertFree(endpoints: readonly { what: string; host: string; port: number }[]): Promise<void> {
  const taken: string[] = [];
  for (const e of endpoints) if (!(await isFree(e.host, e.port))) taken.push(`${e.what} ${e.host}:${e.port}`);
  if (taken.length)
    throw new LabConflictError(
      `already in use: ${taken.join(', ')}. Another lab with the same id, or a system service (e.g. Debian's pgpool2/postgresql on 0.0.0.0)? ` +
        `Use another --id, or stop that service`,
    );
}
