/**
 * Work that outlives the request that started it (counting a failed token, the decoy password
 * hash), tracked so that `close()` can wait for it: nothing is left writing to a closed pool, and
 * tests wait for `close()` instead of sleeping. Each task handles its own errors before it gets here.
 */
export class BackgroundTasks {
  readonly #pending = new Set<Promise<unknown>>();

  /** Tracks `task` until it settles. */
  track(task: Promise<unknown>): void {
    const forget = (): void => void this.#pending.delete(tracked);
    const tracked: Promise<void> = task.then(forget, forget);
    this.#pending.add(tracked);
  }

  /**
   * Starts `work` on a later turn of the event loop, so the answer of the request that asked for
   * it is written first (embedded PGlite is one session the next request waits for, and a PGlite
   * instance the app hands over shares this thread), and tracks it.
   */
  defer(work: () => Promise<unknown>): void {
    this.track(new Promise<void>((resolve) => setImmediate(resolve)).then(work));
  }

  /** Resolves once every tracked task (including ones started meanwhile) has settled. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
