import type { Kysely } from 'kysely';
import { databaseNow, revocationsSince } from '../db/revocation-log-repository.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';

/** How often an instance without a LISTEN connection reads the revocation log. */
export const REVOCATION_POLL_MS = 500;
/**
 * Each poll re-reads this much of the log before the newest row it saw: a revocation whose
 * transaction commits after a later one may carry an earlier time, and must still be seen.
 */
export const REVOCATION_POLL_OVERLAP_SECONDS = 30;

/**
 * For instances that cannot LISTEN (the app passed a Kysely instance and no `listenDsn`): reads
 * the revocation log every REVOCATION_POLL_MS and hands each event to `onEvent` once. A logout
 * on another instance reaches this one within about that interval.
 */
export class RevocationPoller {
  #since: Date | undefined;
  /** Ids already applied, with their log time, forgotten once out of the overlap. */
  readonly #seen = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #failing = false;
  #closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly onEvent: (payload: unknown) => void,
    private readonly logger: Logger,
  ) {}

  /** Starts from the database's "now": what was revoked before is loaded by the caller's warm-up. */
  async start(): Promise<void> {
    this.#since ??= await databaseNow(this.db);
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#poll().finally(() => this.#schedule()), REVOCATION_POLL_MS);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    try {
      const rows = await revocationsSince(this.db, this.#since!, REVOCATION_POLL_OVERLAP_SECONDS);
      for (const row of rows) {
        const at = new Date(row.created_at).getTime();
        if (at > this.#since!.getTime()) this.#since = new Date(at);
        if (this.#seen.has(row.id)) continue;
        this.#seen.set(row.id, at);
        this.onEvent(row.event);
      }
      const horizon = this.#since!.getTime() - REVOCATION_POLL_OVERLAP_SECONDS * 1000;
      for (const [id, at] of this.#seen) if (at < horizon) this.#seen.delete(id);
      if (this.#failing) this.logger.info({}, 'express-authlib: revocation log readable again');
      this.#failing = false;
    } catch (err) {
      // The database is down: nobody can revoke meanwhile, and the overlap covers the gap.
      if (!this.#failing) this.logger.warn({ err: { message: (err as Error).message } }, 'express-authlib: reading the revocation log failed; retrying');
      this.#failing = true;
    }
  }
}
