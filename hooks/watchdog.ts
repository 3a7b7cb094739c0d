// The hook run's overall deadline timer, kept apart from the flow it guards.

/**
 * The backstop deadline: a timer that wins the race against the hook's work. It can fire because
 * nothing the hook does blocks the event loop (files are opened non-blocking and size-checked,
 * directories created without Node's recursive mkdir, sockets have their own deadlines).
 */
export class Watchdog {
  readonly expired: Promise<number>;
  private timer: NodeJS.Timeout | undefined;
  private fire: () => void = () => undefined;

  constructor(
    private readonly startedAt: number,
    public budgetMs: number,
    onExpiry: (budgetMs: number) => number,
  ) {
    this.expired = new Promise<number>((resolve) => {
      this.fire = () => resolve(onExpiry(this.budgetMs));
    });
    this.arm();
  }

  /** Sets the whole run's budget, counted from the start, once the config says what it is. */
  setBudget(ms: number): void {
    this.budgetMs = ms;
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.fire, Math.max(0, this.startedAt + this.budgetMs - Date.now()));
  }
}
