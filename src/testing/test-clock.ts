/**
 * The clock a test instance reads (its `now` option): real time shifted by an offset the test
 * controls. Time keeps flowing after `advance` or `set`, so nothing that measures elapsed time
 * stalls; only where "now" is moves.
 */
export class TestClock {
  #offsetMs = 0;

  /** The current time as the instance sees it. A bound function, so it can be passed as `now`. */
  readonly now = (): Date => new Date(Date.now() + this.#offsetMs);

  /** Moves the clock forward (or back, with a negative number) by `seconds`. */
  advance(seconds: number): void {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
      throw new TypeError('express-authlib/testing: clock.advance(seconds) takes a finite number of seconds, e.g. clock.advance(3600)');
    }
    this.#offsetMs += seconds * 1000;
  }

  /** Makes "now" this date (time keeps flowing from there). */
  set(date: Date | string | number): void {
    const at = date instanceof Date ? date.getTime() : new Date(date).getTime();
    if (!Number.isFinite(at)) throw new TypeError('express-authlib/testing: clock.set(date) takes a valid Date, ISO string or epoch milliseconds');
    this.#offsetMs = at - Date.now();
  }

  /** Back to real time. */
  reset(): void {
    this.#offsetMs = 0;
  }
}
