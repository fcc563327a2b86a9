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

  /** Resolves once every tracked task (including ones started meanwhile) has settled. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
