/**
 * Which PCP endpoints answered lately. With several pgpools (a watchdog cluster), one that is
 * down refuses at once but one that is frozen accepts the connection and never answers, costing
 * a full read timeout per call; once an endpoint failed, later calls try it last until it answers
 * again or its cooldown passes, so actions and confirmations go to the pgpools that can answer.
 * Shared by every driver of a process (the executor builds one per job).
 */

export interface EndpointKey {
  host: string;
  port: number;
  name: string;
}

export interface EndpointHealthEntry {
  endpoint: string;
  reachable: boolean;
  lastFailureAt: number | null;
  lastError: string | null;
  lastAnswerAt: number | null;
}

export class EndpointHealth {
  private readonly entries = new Map<string, EndpointHealthEntry>();

  constructor(
    readonly cooldownMs = 15_000,
    private readonly now: () => number = Date.now,
  ) {}

  private key(ep: EndpointKey): string {
    return `${ep.host}:${ep.port}`;
  }

  private entry(ep: EndpointKey): EndpointHealthEntry {
    const k = this.key(ep);
    let e = this.entries.get(k);
    if (!e) {
      e = { endpoint: ep.name, reachable: true, lastFailureAt: null, lastError: null, lastAnswerAt: null };
      this.entries.set(k, e);
    }
    return e;
  }

  answered(ep: EndpointKey): void {
    const e = this.entry(ep);
    e.reachable = true;
    e.lastAnswerAt = this.now();
  }

  failed(ep: EndpointKey, error: string): void {
    const e = this.entry(ep);
    e.reachable = false;
    e.lastFailureAt = this.now();
    e.lastError = error;
  }

  /** Failed within the cooldown and has not answered since. */
  suspect(ep: EndpointKey): boolean {
    const e = this.entries.get(this.key(ep));
    return e !== undefined && !e.reachable && e.lastFailureAt !== null && this.now() - e.lastFailureAt < this.cooldownMs;
  }

  /** Config order, suspects moved to the end (oldest failure first: the likeliest to be back). */
  order<T extends EndpointKey>(endpoints: readonly T[]): T[] {
    const good = endpoints.filter((e) => !this.suspect(e));
    const bad = endpoints
      .filter((e) => this.suspect(e))
      .sort((a, b) => (this.entries.get(this.key(a))?.lastFailureAt ?? 0) - (this.entries.get(this.key(b))?.lastFailureAt ?? 0));
    return [...good, ...bad];
  }

  view(endpoints: readonly EndpointKey[]): EndpointHealthEntry[] {
    return endpoints.map((ep) => ({ ...this.entry(ep) }));
  }
}

/** The process-wide memory every driver uses unless given its own (tests). */
export const sharedEndpointHealth = new EndpointHealth();
