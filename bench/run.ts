/**
 * `npm run bench`: every benchmark of the project, each printing its figures and its ratio to a
 * baseline measured in the same run on the same machine (never a number remembered from
 * elsewhere). Select some with `npm run bench -- cli hooks pcp fleet e2e`; the long run
 * (`long`, bench/long.ts) only when named.
 */
import { labDown, labUp } from '../lab/index.ts';
import { benchCli } from './cli.ts';
import { benchFailover } from './failover.ts';
import { benchHooks } from './hooks.ts';
import { benchLong } from './long.ts';
import { benchPcp } from './pcp.ts';
import { benchWorkers } from './workers.ts';

const all = ['cli', 'hooks', 'pcp', 'fleet', 'e2e'] as const;
/** Run only when named: `npm run bench -- long [--minutes 30]` (3 minutes unless told). */
const onRequest = ['long'] as const;
const known: readonly string[] = [...all, ...onRequest];
const chosen = process.argv.slice(2).filter((a): a is (typeof all)[number] | (typeof onRequest)[number] => known.includes(a));
const run = chosen.length ? chosen : [...all];

for (const name of run) {
  const t0 = performance.now();
  switch (name) {
    case 'cli':
      await benchCli();
      break;
    case 'hooks':
      await benchHooks();
      break;
    case 'pcp': {
      const lab = await labUp({ id: 4, dir: `${process.env.TMPDIR ?? '/tmp'}/pcpflow-bench-lab-4` });
      try {
        await benchPcp(lab);
      } finally {
        await labDown(lab.dir);
      }
      break;
    }
    case 'fleet':
      await benchWorkers();
      break;
    case 'e2e':
      await benchFailover();
      break;
    case 'long':
      await benchLong();
      break;
  }
  console.log(`(${name} bench took ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
