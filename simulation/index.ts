/**
 * The offline engines behind `pcpflow simulate` and `pcpflow replay`: pure (no I/O, a simulated
 * clock and ids), built on the decision core and the hooks' own argv parser.
 */
export { canonicalBackends, clusterFor, type ClusterSetup } from './cluster.ts';
export { eventsFrom, replay, replayStart } from './replay.ts';
export { formatRowsJson, formatRowsTable, rowsOf, type DecisionRow } from './rows.ts';
export { runScenario, type RunResult } from './run.ts';
export { ScenarioError } from './errors.ts';
export { parseScenario, type Scenario, type ScenarioItem } from './scenario.ts';
