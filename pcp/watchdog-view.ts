import type { WatchdogInfo } from './commands.ts';
import type { PcpDriver } from './driver.ts';
import type { EachAnswer } from './views.ts';

/**
 * The watchdog cluster as every configured pgpool sees it (`pcpflow pcp watchdog`): who each one
 * names as leader, whether they agree, and what each reports about itself.
 */
export interface WatchdogView {
  /** The one leader every answering pgpool names; null when none, or when they disagree. */
  leader: string | null;
  agree: boolean;
  /** Every leader named, so a disagreement can be shown. */
  leaders: string[];
  answered: boolean;
  answers: EachAnswer<WatchdogInfo>[];
  pgpools: Array<{ endpoint: string; reachable: boolean; role: string | null } & ({ watchdog: WatchdogInfo } | { error: string })>;
}

export async function watchdogView(driver: PcpDriver, deadlineMs: number): Promise<WatchdogView> {
  const answers: EachAnswer<WatchdogInfo>[] = driver.watchdogEach
    ? await driver.watchdogEach({ deadlineMs })
    : [await driver.watchdog({ deadlineMs }).then((a) => ({ endpoint: a.endpoint, host: '', port: 0, value: a.value }))];
  const leaders = new Set(answers.flatMap((a) => (a.value?.leaderHostName && a.value.leaderHostName !== 'Not Set' ? [a.value.leaderHostName] : [])));
  return {
    leader: leaders.size === 1 ? ([...leaders][0] ?? null) : null,
    agree: leaders.size <= 1,
    leaders: [...leaders],
    answered: answers.some((a) => a.value !== undefined),
    answers,
    pgpools: answers.map((a) => ({
      endpoint: a.endpoint,
      reachable: a.value !== undefined,
      role: a.value?.WatchdogNodes[0]?.StateName ?? null,
      ...(a.value ? { watchdog: a.value } : { error: a.error ?? 'no answer' }),
    })),
  };
}
