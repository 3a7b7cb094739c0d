import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../contracts/config.ts';
import { formatAddress } from '../contracts/address.ts';
import { BinariesDriver } from '../pcp/binaries.ts';
import { NativeDriver } from '../pcp/native.ts';
import { endpointsOf } from '../pcp/endpoints.ts';
import { opsOver } from '../pcp/index.ts';
import { median } from './stats.ts';

/**
 * Native PCP client vs the pcp_* binaries on one real pgpool, in one run:
 *  (a) node info of every node: native = `I -1` on the driver's kept connection (pcp/kept.ts: it is
 *      reopened every maxAgeMs, so some samples include a login), and native with one connection per
 *      call (keep: false) for comparison; binaries = one pcp_node_info process per node, as the old
 *      scripts did;
 *  (b) detach accepted (the PCP reply): native (L + D on one connection) vs one pcp_detach_node;
 *  (c) detach until pgpool shows the node down: ensureDetached over each driver.
 * Between detaches the node is attached again and pgpool's post-failover pause (about 1 s, during
 * which node requests queue) is waited out, so every detach starts from the same quiet state.
 */

export interface BenchLab {
  config: Config;
  nodes: { address: string; port: number }[];
}

const ms = (x: number): string => `${x.toFixed(2)} ms`;
const pause = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function benchPcp(lab: BenchLab, opts: { rounds?: number; actionRounds?: number } = {}): Promise<void> {
  const cluster = lab.config.clusters[0];
  if (!cluster) throw new Error('the lab config has no cluster');
  const native = new NativeDriver(cluster);
  const oneShot = new NativeDriver(cluster, { keep: false });
  const binaries = new BinariesDriver(cluster);
  const ep = endpointsOf(cluster)[0];
  if (!ep) throw new Error('no PCP endpoint');
  const rounds = opts.rounds ?? 30;
  const actionRounds = opts.actionRounds ?? 5;
  const count = (await native.nodeCount()).value;
  const targetId = count - 1;
  const last = lab.nodes[targetId];
  if (!last) throw new Error('lab has no standby to detach');
  const target = formatAddress({ host: last.address, port: last.port });
  const nativeOps = opsOver(cluster, native);
  const binOps = opsOver(cluster, binaries);

  const restore = async (): Promise<void> => {
    const o = await nativeOps.ensureAttached(target);
    if (o.result === 'failed') throw new Error(`could not re-attach ${target}: ${o.reason}`);
    await pause(1_500); // pgpool's post-failback pause; a detach sent inside it would queue behind it
  };
  const waitDown = async (): Promise<void> => {
    const deadline = performance.now() + 15_000;
    while ((await native.nodes()).value.nodes[targetId]?.status !== 'down') {
      if (performance.now() > deadline) throw new Error(`${target} not seen down`);
      await pause(10);
    }
  };

  // (a) node info of every node
  const a = { native: [] as number[], binaries: [] as number[] };
  const a1 = { native: [] as number[], binaries: a.binaries };
  for (let i = 0; i < rounds; i++) {
    a.native.push(await time(() => native.nodes()));
    a1.native.push(await time(() => oneShot.nodes()));
    a.binaries.push(
      await time(async () => {
        for (let id = 0; id < count; id++) await binaries.nodeInfo(id);
      }),
    );
  }

  // (b) detach accepted, (c) detach until visible; alternating drivers so drift hits both
  const b = { native: [] as number[], binaries: [] as number[] };
  const c = { native: [] as number[], binaries: [] as number[] };
  await restore();
  for (let i = 0; i < actionRounds; i++) {
    b.native.push(await time(() => native.detach(targetId)));
    await waitDown();
    await restore();
    b.binaries.push(
      await time(async () => {
        const r = await binaries.exec('pcp_detach_node', ep, ['-n', String(targetId)]);
        binaries.check('pcp_detach_node', ep, r, 'detach', true);
      }),
    );
    await waitDown();
    await restore();
    for (const [kind, ops] of [['native', nativeOps], ['binaries', binOps]] as const) {
      let outcome = '';
      c[kind].push(
        await time(async () => {
          outcome = (await ops.ensureDetached(target)).result;
        }),
      );
      if (outcome !== 'changed') throw new Error(`ensureDetached via ${kind}: ${outcome}`);
      await restore();
    }
  }

  const row = (label: string, r: { native: number[]; binaries: number[] }): string => {
    const n = median(r.native);
    const bn = median(r.binaries);
    return `${label.padEnd(40)} native ${ms(n).padStart(10)}   binaries ${ms(bn).padStart(10)}   binaries/native ${(bn / n).toFixed(1)}x   (n=${r.native.length})`;
  };
  process.stdout.write(`PCP bench: ${count} nodes, pgpool at ${ep.name}, medians\n`);
  process.stdout.write(`${row(`(a) node info, all ${count} nodes, kept`, a)}\n`);
  process.stdout.write(`${row(`(a') same, one connection per call`, a1)}\n`);
  process.stdout.write(
    `    kept connection: ${native.keptStats.opened} logins, ${native.keptStats.reused} reuses, ${native.keptStats.oneShot} one-shot (in a settle window)\n`,
  );
  process.stdout.write(`${row('(b) detach accepted', b)}\n`);
  process.stdout.write(`${row('(c) detach until seen down', c)}\n`);
  const ratio = median(a.binaries) / median(a.native);
  process.stdout.write(`goal (a) native >= 10x faster: ${ratio >= 10 ? 'met' : 'NOT met'} (${ratio.toFixed(1)}x)\n`);
  await native.close();
}

const invoked = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invoked === realpathSync(fileURLToPath(import.meta.url))) {
  const { labId, startLab } = await import('../testkit/lab.ts');
  const lab = await startLab({ id: labId(4) });
  try {
    await benchPcp(lab);
  } finally {
    await lab.stop();
  }
}
