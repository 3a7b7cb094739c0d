// The hook's own flags and usage text, read before the hook source takes over the argv.
import { printable } from '../contracts/address-syntax.ts';
import { HookArgvError } from './errors.ts';

export const USAGE = `usage: pcpflow-hook [--cluster NAME] [--config FILE] [--node ADDRESS] <hook> [args…]
  efm attach|detach %h %t            efm fence|post-promotion %p [%f]
  efm remote-pre-promotion|remote-post-promotion %p
  efm resumed|db-failure|primary-isolated       efm notification <subject> <body>
  pgpool follow-primary %d %h %p %D %m %H %M %P %r %R %N %S
  event rebuild-started|rebuild-done <address>
env: PCPFLOW_CLUSTER, PCPFLOW_CONFIG, PCPFLOW_NODE`;

export interface GlobalFlags {
  cluster?: string;
  config?: string;
  node?: string;
  help: boolean;
  rest: string[];
}

const FLAGS = ['cluster', 'config', 'node'] as const;

/** Global flags come first; everything from the hook source on is the hook's (pgpool passes -1). */
export function parseGlobalFlags(argv: readonly string[]): GlobalFlags {
  const out: GlobalFlags = { help: false, rest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('-')) break;
    if (a === '--help' || a === '-h') {
      out.help = true;
      continue;
    }
    const m = /^--([a-z]+)(?:=(.*))?$/s.exec(a);
    const flag = FLAGS.find((f) => f === m?.[1]);
    if (!m || !flag)
      throw new HookArgvError(
        `option "${printable(a)}" is unknown; the options are --cluster, --config, --node`,
      );
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === '') throw new HookArgvError(`option --${flag}: needs a value`);
    out[flag] = value;
  }
  out.rest = argv.slice(i);
  return out;
}
