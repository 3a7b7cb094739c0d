/**
 * The command lines `pcpflow` runs without commander (~15 ms of start-up): `pcp check-primary`
 * and `status` in their plain forms, the ones EFM-side scripts, monitoring and DBAs type.
 * Anything else (help, `--`, an unknown flag, a value that starts with a dash) is left to
 * commander, so its behaviour, messages and exit codes stay the only ones; this only recognises.
 * Both paths run the same action function with the same options object.
 */
export interface FastOpts {
  config?: string;
  cluster?: string;
  json?: boolean;
  check?: boolean;
}

export type FastCommand = { name: 'check-primary'; address: string; opts: FastOpts } | { name: 'status'; opts: FastOpts };

interface Form {
  /** The words that name the command. */
  words: readonly string[];
  flags: ReadonlySet<'--json' | '--check'>;
  positional: boolean;
}

const FORMS = {
  'check-primary': { words: ['pcp', 'check-primary'], flags: new Set(['--json'] as const), positional: true },
  status: { words: ['status'], flags: new Set(['--json', '--check'] as const), positional: false },
} satisfies Record<FastCommand['name'], Form>;

const VALUE_OPTIONS = { '--config': 'config', '--cluster': 'cluster' } as const;
const BOOLEAN_OPTIONS = { '--json': 'json', '--check': 'check' } as const;

/** The options and positional arguments after a command's words, or null when commander must judge them. */
function parse(args: readonly string[], form: Form): { opts: FastOpts; positionals: string[] } | null {
  const opts: FastOpts = {};
  const positionals: string[] = [];
  for (let i = form.words.length; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--json' || a === '--check') {
      if (!form.flags.has(a)) return null;
      opts[BOOLEAN_OPTIONS[a]] = true;
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
    if (a.startsWith('-')) return null;
    positionals.push(a);
  }
  return { opts, positionals };
}

export function fastCommand(args: readonly string[]): FastCommand | null {
  for (const [name, form] of Object.entries(FORMS) as [FastCommand['name'], Form][]) {
    if (!form.words.every((w, i) => args[i] === w)) continue;
    const parsed = parse(args, form);
    if (!parsed) return null;
    const { opts, positionals } = parsed;
    if (name === 'status') return positionals.length === 0 ? { name, opts } : null;
    const [address, ...more] = positionals;
    return address !== undefined && more.length === 0 ? { name, address, opts } : null;
  }
  return null;
}
