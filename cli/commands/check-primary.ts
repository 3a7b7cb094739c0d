import { findNode, PcpAmbiguousAddressError, PcpError, PcpInvalidRequestError, PcpUnknownAddressError } from '../../pcp/index.ts';
import { action } from '../run.ts';
import { addressArg, nodeJson, pcpContext, type CommonOpts } from './pcp-context.ts';

export const CHECK_PRIMARY_SUMMARY =
  "exit 0 if the backend is pgpool's primary, 1 if a standby, 2 if no configured backend has that address, 3 if pgpool has no such backend, 4 if pgpool cannot be asked";

/**
 * `pcpflow pcp check-primary ADDRESS`: pgpool_backend.sh's check, asked by EFM-side scripts and
 * DBAs, so it must start about as fast as node does. `npm run build` also builds this module on
 * its own (build/check-primary.js, scripts/build.ts): cli/main.ts runs it for the plain command
 * lines (cli/fast-argv.ts) without loading commander or the `pcp` command's other code, and
 * the `pcp` command registers the same function for every other form (--help, odd argv).
 * Exit codes: README "check-primary".
 */
export async function checkPrimary(addressText: string, opts: CommonOpts): Promise<number> {
  const { cluster, driver } = pcpContext(opts);
  const address = addressArg(cluster, addressText);
  let found: Awaited<ReturnType<typeof findNode>>;
  try {
    found = await findNode(cluster, driver, address);
  } catch (err) {
    if (err instanceof PcpUnknownAddressError || err instanceof PcpAmbiguousAddressError || err instanceof PcpInvalidRequestError) throw err;
    if (err instanceof PcpError) {
      process.stderr.write(`pcpflow: ${err.message}\n`);
      return 4;
    }
    throw err;
  }
  const { node } = found;
  if (opts.json) process.stdout.write(JSON.stringify({ address, ...nodeJson(node), primary: node.role === 'primary' }) + '\n');
  else process.stdout.write(`${address} is pgpool's ${node.role} (node ${node.id}, ${node.status})\n`);
  return node.role === 'primary' ? 0 : 1;
}

/** The fast path's entry: the same action wrapper (exit codes, error lines) as under commander. */
export const runCheckPrimary = (address: string, opts: CommonOpts): Promise<void> => action(checkPrimary)(address, opts);
