import { writeFileSync } from 'node:fs';
import { ConfigSchema, type Config, type ConfigInput } from '../contracts/config.ts';
import { PCP_USER } from './pgpool.ts';
import { pgpoolsOf, type LabPlan } from './options.ts';
import { redisUrl } from './redis.ts';

/** The pcpflow config that points every pcpflow command at this lab (cluster name `lab`). */
export const LAB_CLUSTER = 'lab';

export function labConfig(plan: LabPlan): Config {
  const input: ConfigInput = {
    redis: { url: redisUrl(plan) },
    outbox: { dir: plan.paths.outbox },
    clusters: [
      {
        name: LAB_CLUSTER,
        pcp: {
          // Every pgpool of a watchdog cluster, in pgpool_node_id order: there is no virtual IP.
          endpoints: pgpoolsOf(plan).map((p, _i, all) => ({
            host: p.host,
            port: p.pcpPort,
            label: all.length === 1 ? `pgpool ${plan.name}` : `pgpool${p.index}`,
          })),
          user: PCP_USER,
          passfile: plan.paths.pcppass,
        },
        backends: plan.nodes.map((n) => ({ address: n.address, port: n.port })),
        // The lab's PostgreSQL trusts loopback: the stream check asks it directly, within one poll.
        streamCheck: { postgres: { user: 'postgres' } },
      },
    ],
  };
  return ConfigSchema.parse(input);
}

export function writeLabConfig(plan: LabPlan): Config {
  const config = labConfig(plan);
  // Written by `pcpflow lab up`, removed by `pcpflow lab down`.
  writeFileSync(plan.paths.config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  return config;
}
