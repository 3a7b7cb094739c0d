import { join } from 'node:path';
import { InvalidInputError } from '../../contracts/errors.ts';
import type { LabHandle } from '../lab.ts';
import { startWorker, type WorkerProcess } from './fleet-processes.ts';
import { runScenarios, type StepResult } from './runner.ts';
import type { Scenario } from './drill.ts';
import { SCENARIOS } from './scenarios.ts';
import { WATCHDOG_SCENARIOS } from './watchdog-scenarios.ts';

export { SCENARIOS, WATCHDOG_SCENARIOS, type Scenario, type StepResult };
export const ALL_SCENARIOS: readonly Scenario[] = [...SCENARIOS, ...WATCHDOG_SCENARIOS];

export function scenarioByName(name: string): Scenario | undefined {
  return ALL_SCENARIOS.find((s) => s.name === name);
}

/** `all` = the scenarios made for the lab's shape: the watchdog ones on a lab with 3+ pgpools, else the classic ones. */
export function selectScenarios(names: readonly string[], pgpoolCount = 1): Scenario[] {
  if (names.length === 0 || names.includes('all')) return pgpoolCount >= 3 ? [...WATCHDOG_SCENARIOS] : [...SCENARIOS];
  return names.map((n) => {
    const s = scenarioByName(n);
    if (!s) throw new InvalidInputError(`unknown scenario "${n.slice(0, 40)}"; choose from ${ALL_SCENARIOS.map((x) => x.name).join(', ')}, all`);
    if ((s.pgpools ?? 1) > pgpoolCount)
      throw new InvalidInputError(`scenario ${s.name} needs a lab of ${s.pgpools ?? 1} pgpools joined by the watchdog; this lab has ${pgpoolCount} (pcpflow lab up --pgpools 3)`);
    return s;
  });
}

/**
 * A drill: `workers` real `pcpflow worker` processes against the lab, the chosen scenarios,
 * then the workers stopped by pid. Returns every step's result; the caller decides the exit code.
 */
export async function runDrill(
  lab: LabHandle,
  scenarios: readonly Scenario[],
  opts: { workers?: number; basePort?: number; say?: (line: string) => void } = {},
): Promise<StepResult[]> {
  const say = opts.say ?? ((l: string) => process.stdout.write(`${l}\n`));
  const workers: WorkerProcess[] = [];
  try {
    for (let i = 0; i < (opts.workers ?? 2); i++) {
      const httpPort = (opts.basePort ?? 19464 + lab.id * 10) + i;
      const w = await startWorker({ configPath: lab.configPath, httpPort, logFile: join(lab.dir, 'log', `worker-${i}.log`) });
      say(`worker ${i} running (pid ${w.pid}, http 127.0.0.1:${httpPort})`);
      workers.push(w);
    }
    return await runScenarios(lab, scenarios, { say });
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}
