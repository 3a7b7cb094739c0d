import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { labDown, labUp, pgpools, type LabHandle, type LabOptions } from '../lab/index.ts';

/**
 * A real lab (PostgreSQL primary + standbys, pgpool-II, Redis) for one integration test file.
 *
 * Lab ids in use — each test file takes its own so labs never share an address (127.0.<id>.x):
 *   0        the demo lab (`pcpflow lab up`, `npm run demo`); never used by tests
 *   1        test/lab/lab.test.ts
 *   3        test/pcp/pgpool.test.ts        4  bench/pcp.ts (standalone)
 *   6        test/workers/workers.test.ts
 *   8        test/drills/drills.test.ts     9  test/console/console.test.ts
 *   10       bench/failover.ts              11 test/replication/stream-check.test.ts
 *   12       bench/cli.ts                   23 test/console/timeline.test.ts
 *   20       test/drills/watchdog.test.ts  21  test/pcp/watchdog.test.ts (three pgpools, watchdog)
 *   27       test/hooks/fence-pgpool.test.ts 33 test/workers/fence-step-aside.test.ts
 *   25       test/workers/operate.test.ts
 *   37       test/pcp/kept-pgpool.test.ts  38  bench/long.ts
 *   others up to 40 are free: add yours here when you take one
 *
 * PCPFLOW_TEST_LAB_OFFSET (default 0) shifts every id, so several checkouts can run their suites on
 * one machine side by side without sharing an address or a lab dir.
 *
 * The lab lives in $TMPDIR/pcpflow-test-lab-<id>. Whatever a crashed earlier run left there is
 * torn down first (by the pids it recorded), so every file starts from a fresh, settled cluster:
 * `labUp` returns only once pgpool answers PCP with every backend up and every standby streaming.
 */
export interface TestLab extends LabHandle {
  /** Stops every process the lab started (by pid) and removes its dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** A test file's lab id, shifted by PCPFLOW_TEST_LAB_OFFSET. */
export function labId(base: number): number {
  const offset = Number(process.env.PCPFLOW_TEST_LAB_OFFSET ?? '0');
  if (!Number.isInteger(offset) || offset < 0 || base + offset > 250) {
    throw new Error(`PCPFLOW_TEST_LAB_OFFSET=${process.env.PCPFLOW_TEST_LAB_OFFSET} must be an integer keeping lab ids within 0-250`);
  }
  return base + offset;
}

export function testLabDir(id: number): string {
  return join(tmpdir(), `pcpflow-test-lab-${id}`);
}

export async function startLab(opts: LabOptions & { id: number; log?: (line: string) => void }): Promise<TestLab> {
  const { log, ...labOpts } = opts;
  const dir = labOpts.dir ?? testLabDir(opts.id);
  await labDown(dir);
  const handle = await labUp({ ...labOpts, dir }, log);
  let stopped = false;
  return {
    ...handle,
    async stop() {
      if (stopped) return;
      stopped = true;
      await labDown(dir);
    },
  };
}

/**
 * A lab with three pgpools in one watchdog cluster. Its stop() thaws every pgpool first: a failed
 * assertion must not leave one stopped by SIGSTOP behind (labDown could not stop it gracefully).
 */
export async function startWatchdogLab(id: number): Promise<TestLab> {
  const lab = await startLab({ id, pgpools: 3 });
  return {
    ...lab,
    async stop() {
      for (const p of lab.pgpools) {
        try {
          pgpools.thawPgpool(lab, p.role);
        } catch {
          // not running
        }
      }
      await lab.stop();
    },
  };
}
