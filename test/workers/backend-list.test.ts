import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ClusterConfigSchema } from '../../contracts/config.ts';
import type { PcpNode } from '../../pcp/index.ts';
import { pgpoolSourceGap } from '../../replication/pgpool-source.ts';
import { backendListMismatches } from '../../workers/backend-list.ts';

const cluster = ClusterConfigSchema.parse({
  name: 'c1',
  pcp: { endpoints: [{ host: '127.0.0.1' }], user: 'pcp' },
  backends: [
    { address: '127.0.0.11', port: 5432 },
    { address: '127.0.0.12', port: 5432 },
    { address: '127.0.0.14', port: 5432 },
  ],
});
const node = (id: number, host: string): PcpNode => ({ id, host, port: 5432, status: 'up', role: id === 0 ? 'primary' : 'standby', weight: 1 });

test("a backend only one side knows is named, with what to fix", () => {
  const w = backendListMismatches(cluster, [node(0, '127.0.0.11'), node(1, '127.0.0.12'), node(2, '127.0.0.13')]);
  assert.equal(w.length, 2);
  assert.match(w[0] ?? '', /127\.0\.0\.14:5432 is in pcpflow's config but not in pgpool's backend list/);
  assert.match(w[1] ?? '', /pgpool's node 2 \(127\.0\.0\.13:5432\) is not in pcpflow's config/);
  assert.deepEqual(backendListMismatches(cluster, [node(0, '127.0.0.11'), node(1, '127.0.0.12'), node(2, '127.0.0.14')]), []);
});

test("pgpool's replication state is a source only with sr_check and an application name per backend", () => {
  const ok = new Map([['sr_check_period', '1'], ['sr_check_user', 'postgres'], ['backend_application_name0', 'a'], ['backend_application_name1', 'b']]);
  assert.equal(pgpoolSourceGap(ok, 2), null);
  assert.match(pgpoolSourceGap(new Map([...ok, ['sr_check_period', '0']]), 2) ?? '', /sr_check_period = 0/);
  assert.match(pgpoolSourceGap(ok, 3) ?? '', /backend_application_name2/);
});
