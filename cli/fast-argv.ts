/**
 * The command lines `pcpflow` runs without commander (~15 ms of start-up): `pcp check-primary`
 * in its plain forms, the ones EFM-side scripts and DBAs type. Anything else (help, `--`, an
 * unknown or repeated-looking flag, a value that starts with a dash) is left to commander, so
 * its behaviour, messages and exit codes stay the only ones; this only recognises.
 */
export interface FastCheckPrimary {
  address: string;
  opts: { config?: string; cluster?: string; json?: boolean };
}

const VALUE_OPTIONS = { '--config': 'config', '--cluster': 'cluster' } as const;

export function fastCheckPrimary(args: readonly string[]): FastCheckPrimary | null {
  if (args[0] !== 'pcp' || args[1] !== 'check-primary') return null;
  const opts: FastCheckPrimary['opts'] = {};
  let address: string | undefined;
  for (let i = 2; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--json') {
      opts.json = true;
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (flag === '--config' || flag === '--cluster') {
      const value = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (value === undefined || value === '' || value.startsWith('-')) return null;
      opts[VALUE_OPTIONS[flag]] = value;
      continue;
    }
    if (a.startsWith('-') || address !== undefined) return null;
    address = a;
  }
  return address === undefined ? null : { address, opts };
}
