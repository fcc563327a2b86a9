import { ServiceUnavailableError } from './errors.js';
import { BackgroundTasks } from './background-tasks.js';
import { sendError } from './http/respond.js';
import type { Next, Req, Res } from './http/types.js';
import type { Logger } from './logger.js';

/**
 * How long close() waits for requests under way before it releases the database and the password
 * workers; one that takes longer (a provider that never answers) then gets the 503 of a closed pool.
 */
export const CLOSE_DRAIN_MS = 10_000;

/**
 * The requests under way in the library's router, which close() lets finish before it releases
 * anything: a registration whose account is committed gets its 201, not a 500 from a pool released
 * under it. Once closing, a new request gets 503 at the door and starts nothing.
 */
export class RequestsUnderWay {
  readonly #answered = new BackgroundTasks();
  #closing = false;

  /** `router` behind the door. */
  guard(router: (req: Req, res: Res, next: Next) => void, logger: Logger): (req: Req, res: Res, next: Next) => void {
    return (req, res, next) => {
      if (this.#closing) return sendError(res, new ServiceUnavailableError(), logger);
      this.#answered.track(new Promise((done) => res.once('close', done)));
      router(req, res, next);
    };
  }

  /** Shuts the door; resolves once every request under way has been answered, or after CLOSE_DRAIN_MS. */
  finished(): Promise<void> {
    this.#closing = true;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_DRAIN_MS);
      timer.unref();
    });
    return Promise.race([this.#answered.settled(), waited]).finally(() => clearTimeout(timer));
  }
}
