import type { IncomingMessage, ServerResponse } from 'node:http';
import { rateLimit, ipKeyGenerator, type Options as ErlOptions, type Store } from 'express-rate-limit';
import { RateLimitError } from '../errors.js';
import type { DatabaseGate } from '../db/database-gate.js';
import { DatabaseRateLimitStore } from './database-rate-limit-store.js';

/** A limit: at most `limit` counted requests per `windowSeconds` per client address. */
export interface LimitRule {
  limit: number;
  windowSeconds: number;
}

/** The `rateLimit` option. Omitted rules keep their defaults. */
export interface RateLimitOptions {
  /**
   * Accounts with a failed login from one address: each (address, account) pair counts once per
   * window however often it fails (its own growing delays deal with repeats), so this stops one
   * client spraying a password across accounts without locking out an office behind one address.
   * The same rule counts failed password checks of a signed-in account (`/change-password`,
   * `/mfa/*`), per account, and failed confirmation links (`/confirm-verification`,
   * `/confirm-email-change`), per address. @default 30 per 900 s
   */
  login?: LimitRule;
  /** Registrations. @default 10 per 3600 s */
  register?: LimitRule;
  /** Token refreshes. @default 60 per 60 s */
  refresh?: LimitRule;
  /** Failed token presentations (requireAuth, API tokens) per address. @default 60 per 60 s */
  token?: LimitRule;
  /** OAuth flows begun (`POST /login/oauth`, `GET /login/oauth/{provider}`, `POST /{user}/identities/{provider}`): each stores a state. @default 30 per 600 s */
  oauth?: LimitRule;
  /**
   * Failed OAuth callbacks per address: a bad, foreign or used-up state, a refused code, a malformed
   * callback. The user's own answers (declining consent, a second factor due, an account that must
   * verify first) and the provider being down do not count. States are unguessable, so this guards
   * against floods, not guessing, and is set for many people behind one address. @default 30 per 900 s
   */
  oauthCallback?: LimitRule;
  /** Mail requested (`/request-password-reset`, `/request-verification`, `/request-email-change`, `/request-otp`) per address. @default 10 per 3600 s */
  mail?: LimitRule;
  /** The same requests per target email address, whoever asks (nobody can flood one inbox). @default 5 per 3600 s */
  mailTarget?: LimitRule;
  /**
   * Failed one-time codes and links: per address at `/login/otp`, `/login/mfa` and the confirmation
   * links, per account at the signed-in `/mfa/*` routes; successes do not count. Each `otp_id` and
   * `mfa_id` allows 5 tries and every account has its own second-factor delays besides, so this is
   * set for many people behind one address. @default 30 per 900 s
   */
  code?: LimitRule;
  /** Passkey ceremonies begun (`POST /login/passkey/options`, `POST /passkeys/register/options`) per address: each stores a challenge. @default 30 per 600 s */
  passkey?: LimitRule;
  /** Group invitations sent (`POST /groups/{id}/invitations`) per inviting account, whatever the answer. @default 30 per 3600 s */
  invitation?: LimitRule;
  /**
   * Group-invitation mails per target address (a username invitation counts under the account's
   * address it is mailed to), whoever invites. Over the limit the invitation is still stored and
   * answered alike (202); only its mail is left out, so the limit tells nobody anything. @default 5 per 3600 s
   */
  invitationMail?: LimitRule;
  /**
   * Makes the counter store for one limiter (called once per limiter, with its name): any
   * express-rate-limit store, e.g. rate-limit-redis. @default counters in the library's database, shared by every instance
   */
  store?: (limiter: LimitName) => Store;
}

export type LimitName =
  'login' | 'register' | 'refresh' | 'token' | 'oauth' | 'oauthCallback' | 'mail' | 'mailTarget' | 'code' | 'passkey' | 'invitation' | 'invitationMail';

export const DEFAULT_RATE_LIMITS: Readonly<Record<LimitName, LimitRule>> = Object.freeze({
  login: { limit: 30, windowSeconds: 900 },
  register: { limit: 10, windowSeconds: 3600 },
  refresh: { limit: 60, windowSeconds: 60 },
  token: { limit: 60, windowSeconds: 60 },
  oauth: { limit: 30, windowSeconds: 600 },
  oauthCallback: { limit: 30, windowSeconds: 900 },
  mail: { limit: 10, windowSeconds: 3600 },
  mailTarget: { limit: 5, windowSeconds: 3600 },
  code: { limit: 30, windowSeconds: 900 },
  passkey: { limit: 30, windowSeconds: 600 },
  invitation: { limit: 30, windowSeconds: 3600 },
  invitationMail: { limit: 5, windowSeconds: 3600 },
});

/** Limiters that count only failures: a success is the normal case and must never lock a user out. */
const FAILURES_ONLY: ReadonlySet<LimitName> = new Set(['login', 'oauthCallback', 'code']);

/** Requests whose failure answer is not a failure of the client (see `notAFailure`). */
const uncounted = new WeakSet<IncomingMessage>();
/** Marks a request answered with an error as not counting toward a failures-only limit. */
export function notAFailure(req: IncomingMessage): void {
  uncounted.add(req);
}

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
const pass: Middleware = (_req, _res, next) => next();

/** Each manager's limiters, by name: code that counts under a limiter's name shares its store. */
const setups = new WeakMap<DatabaseGate, Map<LimitName, { rule: LimitRule; counter: Store }>>();

/**
 * The rule and the counter store of one limiter: the one place its default and its checks live.
 * Made once per manager (its database gate) and name, so `rateLimit.store` is called once per limiter.
 */
export function limiterSetup(name: LimitName, options: RateLimitOptions, db: DatabaseGate, now: () => Date): { rule: LimitRule; counter: Store } {
  let byName = setups.get(db);
  if (!byName) setups.set(db, (byName = new Map()));
  const known = byName.get(name);
  if (known) return known;
  const rule = options[name] ?? DEFAULT_RATE_LIMITS[name];
  if (!Number.isInteger(rule.limit) || rule.limit < 1 || !Number.isInteger(rule.windowSeconds) || rule.windowSeconds < 1) {
    throw new TypeError(`express-authlib: option \`rateLimit.${name}\` must be { limit, windowSeconds } with positive integers`);
  }
  const setup = { rule, counter: options.store ? options.store(name) : new DatabaseRateLimitStore(db, now) };
  byName.set(name, setup);
  return setup;
}

/** The counting key of a client address (IPv6 grouped by /56, as express-rate-limit does). */
export function addressKey(name: LimitName, ip: string): string {
  return `${name}:${ipKeyGenerator(ip)}`;
}

/**
 * A limit counted by code rather than by a route: each call counts one under `key` and says whether
 * it is within the rule. Always true when rate limiting is off. Same store and key layout as the
 * route limiters (`name:key`), so a custom `store` counts it too.
 */
export function createCounter(name: LimitName, options: false | RateLimitOptions, db: DatabaseGate, now: () => Date): (key: string) => Promise<boolean> {
  if (options === false) return () => Promise.resolve(true);
  const { rule, counter } = limiterSetup(name, options, db, now);
  const ready = Promise.resolve(counter.init?.({ windowMs: rule.windowSeconds * 1000, limit: rule.limit } as ErlOptions));
  return async (key) => {
    await ready;
    const { totalHits } = await counter.increment(`${name}:${key}`);
    return totalHits <= rule.limit;
  };
}

/** Builds the limiter for one endpoint group, or a pass-through when rate limiting is off. */
export function createLimiter(
  name: LimitName,
  options: false | RateLimitOptions,
  deps: { store: DatabaseGate; clientIp: (req: IncomingMessage) => string; now: () => Date },
  /** Counts by this key instead of the client address (undefined: the request is not counted). */
  keyOf?: (req: IncomingMessage) => string | undefined,
): Middleware {
  if (options === false) return pass;
  const { rule, counter } = limiterSetup(name, options, deps.store, deps.now);
  const config: Partial<ErlOptions> = {
    windowMs: rule.windowSeconds * 1000,
    limit: rule.limit,
    store: counter,
    // Only failures count where a success is the normal case and must never lock a user out.
    skipSuccessfulRequests: FAILURES_ONLY.has(name),
    ...(keyOf ? { skip: (req: IncomingMessage) => keyOf(req) === undefined } : {}),
    // An OAuth failure in redirect mode is a 302 carrying `#error=` to the front end: still a failure.
    requestWasSuccessful: (req, res) => uncounted.has(req) || (res.statusCode < 400 && !String(res.getHeader('location') ?? '').includes('#error=')),
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // We resolve the client address ourselves (trustProxy), so express-rate-limit's Express-specific checks do not apply.
    validate: false,
    keyGenerator: (req) => (keyOf ? `${name}:${keyOf(req)}` : addressKey(name, deps.clientIp(req))),
    handler: (req, _res, next) => {
      const resetTime = (req as unknown as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - deps.now().getTime()) / 1000)) : rule.windowSeconds;
      next(new RateLimitError(seconds, name, rule));
    },
  };
  return rateLimit(config) as unknown as Middleware;
}
