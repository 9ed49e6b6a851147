/**
 * Tracks a subscriber's handler calls in flight: caps them at the subscription's concurrency and
 * gives close() its two phases (wait up to a grace period, then abort the rest and wait for them).
 */
export class InFlight {
  readonly #active = new Set<Promise<unknown>>();
  readonly #waiters: Array<() => void> = [];
  readonly #controller = new AbortController();

  constructor(readonly limit: number) {}

  /** Aborted when the grace period of {@link drain} has run out. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get size(): number {
    return this.#active.size;
  }

  /** Resolves when another call may start. */
  async capacity(): Promise<void> {
    while (this.#active.size >= this.limit) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Tracks `work` until it settles (its rejection is the caller's to handle). */
  track(work: Promise<unknown>): void {
    const tracked = work.finally(() => {
      this.#active.delete(tracked);
      this.#waiters.shift()?.();
    });
    tracked.catch(() => undefined);
    this.#active.add(tracked);
  }

  /**
   * Waits up to `graceMs` for the calls in flight; then aborts them and waits up to `abandonMs`
   * more for them to notice. Returns how many still run: a handler that ignores its signal is
   * abandoned, and the adapter gives its delivery back unacked.
   */
  async drain(graceMs: number, abandonMs = 1_000): Promise<number> {
    await this.#settledWithin(graceMs);
    this.#controller.abort(new Error("subscription closed"));
    await this.#settledWithin(abandonMs);
    for (const wake of this.#waiters.splice(0)) wake();
    return this.#active.size;
  }

  async #settledWithin(ms: number): Promise<void> {
    if (this.#active.size === 0 || ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#active]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }
}
