import { readFileSync } from 'node:fs';

/** pcpflow's version from package.json, for /metrics build info and `--version`. */
function readVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const PCPFLOW_VERSION = readVersion();
