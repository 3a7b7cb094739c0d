import type { NodeInfo } from './node-info.ts';
import type { EachAnswer } from './views.ts';
import type { NodesAnswer } from './driver.ts';

/** What one pgpool shows for the node an action is about. */
export interface PgpoolNodeView {
  endpoint: string;
  /** status/role, or null when this pgpool did not answer (down, frozen, skipped). */
  seen: string | null;
  reached: boolean;
}

export interface Judgement {
  views: PgpoolNodeView[];
  /** Every pgpool that answered shows the goal, and at least one answered. */
  confirmed: boolean;
  /** Pgpools that answered and still show another state. */
  behind: PgpoolNodeView[];
  /** Pgpools that answered and show the goal. */
  ahead: PgpoolNodeView[];
}

/**
 * An action counts as confirmed when every reachable pgpool shows it: a watchdog cluster syncs
 * backend status from its leader, so a pgpool still showing the old state is either slow or
 * stale, and the first one answering is not proof enough.
 */
export function judge(answers: readonly EachAnswer<NodesAnswer>[], nodeId: number, reached: (n: NodeInfo) => boolean): Judgement {
  const views = answers.map((a): PgpoolNodeView => {
    const node = a.value?.nodes.find((n) => n.id === nodeId);
    return { endpoint: a.endpoint, seen: node ? `${node.status}/${node.role}` : null, reached: node !== undefined && reached(node) };
  });
  const answered = views.filter((v) => v.seen !== null);
  const behind = answered.filter((v) => !v.reached);
  const ahead = answered.filter((v) => v.reached);
  return { views, confirmed: answered.length > 0 && behind.length === 0, behind, ahead };
}

/** "pgpool1 shows down/standby, pgpool2 unreachable": one clause per pgpool for audit notes. */
export function describeViews(views: readonly PgpoolNodeView[]): string {
  return views.map((v) => `${v.endpoint} ${v.seen === null ? 'unreachable' : `shows ${v.seen}`}`).join(', ');
}
