/**
 * Step timing for `lab up`/`down`: each finished step is reported with the time since the start
 * and its own duration, so a slow lab shows which step is slow.
 */
export type StepSink = (line: string) => void;

export class Steps {
  private readonly t0 = performance.now();
  constructor(private readonly sink: StepSink = () => {}) {}

  elapsedS(): number {
    return (performance.now() - this.t0) / 1000;
  }

  note(text: string): void {
    this.sink(`[${this.elapsedS().toFixed(2).padStart(6)} s]          ${text}`);
  }

  async run<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const s = performance.now();
    const out = await fn();
    const took = ((performance.now() - s) / 1000).toFixed(2);
    this.sink(`[${this.elapsedS().toFixed(2).padStart(6)} s] +${took.padStart(5)} s ${label}`);
    return out;
  }
}
