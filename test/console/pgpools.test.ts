import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { overviewMain } from '../../console/pages.ts';
import type { ClusterStatus } from '../../workers/status.ts';

/** The console's overview of a watchdog cluster: every pgpool with its role, the leader, and each view of a backend they disagree on. */
test('the overview lists the pgpools with their watchdog roles and the leader, and flags a backend they disagree on', () => {
  const status: ClusterStatus = {
    cluster: 'c1',
    version: '7',
    pgpoolEndpoint: 'pgpool1',
    pgpoolError: null,
    pgpools: [
      { endpoint: 'pgpool0', reachable: false, watchdogRole: null, leader: null, error: 'connect refused' },
      { endpoint: 'pgpool1', reachable: true, watchdogRole: 'LEADER', leader: '127.0.0.21', error: null },
      { endpoint: 'pgpool2', reachable: true, watchdogRole: 'STANDBY', leader: '127.0.0.21', error: null },
    ],
    leader: 'pgpool1',
    backends: [
      {
        address: '127.0.0.13:5432',
        machine: 'detached',
        pending: null,
        pgpool: { nodeId: 2, status: 'down', role: 'standby' },
        drift: null,
        views: { pgpool0: null, pgpool1: 'down/standby', pgpool2: 'waiting/standby' },
        disagreement: true,
        lag: null,
        maintenance: null,
        attention: null,
      },
    ],
    lastAudit: [],
    warnings: [],
  };
  const page = overviewMain([status]).text;
  assert.match(page, /watchdog leader: <strong class="leader">pgpool1<\/strong>/);
  assert.match(page, /data-endpoint="pgpool0"><code>pgpool0<\/code> <span class="bad">unreachable<\/span>/);
  assert.match(page, /<code>pgpool2<\/code> STANDBY/);
  assert.match(page, /pgpools disagree: pgpool0 unreachable, pgpool1 down\/standby, pgpool2 waiting\/standby/);
});
