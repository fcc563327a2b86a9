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
 * The requests under way in the library's router and the calls under way in its programmatic API,
 * which close() lets finish before it releases anything: a registration whose account is committed
 * gets its 201 (and `auth.users.create` its user), not an error from a pool released under it.
 * Once closing, a new request gets 503 at the door, a new call a 503 rejection, and neither starts
 * anything.
 */
export class RequestsUnderWay {
  readonly #answered = new BackgroundTasks();
  #closing = false;
  /** When close() stops waiting: CLOSE_DRAIN_MS after the door shut. */
  #deadline: number | undefined;

  /** `router` behind the door. */
  guard(router: (req: Req, res: Res, next: Next) => void, logger: Logger): (req: Req, res: Res, next: Next) => void {
    return (req, res, next) => {
      if (this.#closing) return sendError(res, new ServiceUnavailableError(), logger);
      this.#answered.track(new Promise((done) => res.once('close', done)));
      router(req, res, next);
    };
  }

  /** `methods` (an `auth.users`-like surface, `auth.groups.serviceKeys` within it), each behind the door as `call` puts it. */
  api<T extends object>(methods: T): T {
    const guarded: Record<string, unknown> = {};
    for (const [name, member] of Object.entries(methods)) {
      guarded[name] =
        typeof member === 'function'
          ? (...args: unknown[]) => this.call(() => (member as (...a: unknown[]) => Promise<unknown>)(...args))
          : this.api(member as object);
    }
    return guarded as T;
  }

  /** Runs `work` unless closing (then a 503 rejection, and nothing started); close() waits for it. */
  call<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new ServiceUnavailableError());
    const under = work();
    this.#answered.track(under);
    return under;
  }

  /** Shuts the door; resolves once every request and call under way has ended, or after CLOSE_DRAIN_MS. */
  finished(): Promise<void> {
    this.#closing = true;
    this.#deadline ??= Date.now() + CLOSE_DRAIN_MS;
    return this.bounded(this.#answered.settled());
  }

  /**
   * `work`, waited for until CLOSE_DRAIN_MS after the door shut at most: close() waits so for the
   * work that outlives its request (mail to a server that never answers, a slow hash) too. The
   * timer holds the process open, so that an app awaiting close() sees it end.
   */
  bounded(work: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, (this.#deadline ?? Date.now() + CLOSE_DRAIN_MS) - Date.now()));
    });
    return Promise.race([work, waited]).finally(() => clearTimeout(timer));
  }
}
