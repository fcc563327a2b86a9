import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Connection } from '../db/connect.js';
import { findUserById, type UserRecord } from '../db/users-repository.js';
import { asServiceUnavailable, isDatabaseUnavailable } from '../db/unavailable.js';
import { ServiceUnavailableError } from '../errors.js';
import type { ApiTokenRow, Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { deepFreeze } from '../deep-freeze.js';
import { idKey } from '../id-shape.js';
import { toPublicUser, type User } from '../public-user.js';
import { sessionsRevokedSince } from '../db/refresh-tokens-repository.js';
import { logRevocation, notifyOnCommit, pruneRevocations } from '../db/revocation-log-repository.js';
import { RevocationPoller } from './revocation-poller.js';
import { NO_MEMBERSHIPS, type MembershipLoader, type MembershipView } from './group-memberships.js';

/** How long a cached user (roles, active flag, token version) is trusted before it is re-read. */
export const USER_CACHE_TTL_MS = 30_000;
/** Upper bound on cached users; the oldest entry goes first. */
export const USER_CACHE_MAX = 10_000;
/** Delay before re-opening a lost listening connection; doubles up to the maximum. */
export const LISTEN_RETRY_MS = 500;
export const LISTEN_RETRY_MAX_MS = 10_000;

/**
 * What one instance tells the others: a user's tokens or memberships changed, one login was
 * revoked, an API token was deleted, or the group hierarchy (or a group's slug) changed.
 */
export type RevocationEvent = { user: string } | { session: string } | { apiToken: string } | { groups: true };

/**
 * The hierarchy decides every inherited membership, so an edit of it drops every cached user (and
 * group) at once rather than naming the users of a subtree that may hold thousands.
 */
export const GROUPS_CHANGED: RevocationEvent = Object.freeze({ groups: true });

/**
 * The event with its user or session id in the canonical spelling (see `idKey`): what is announced,
 * logged and applied, so that an id that reached the database in another spelling (PostgreSQL's
 * uuid reads them all as one) still names the cached user or the revoked login. API-token ids are
 * base62 and case-sensitive: kept as they are.
 */
export function canonicalEvent(event: RevocationEvent): RevocationEvent {
  if ('user' in event) return { user: idKey(event.user) };
  if ('session' in event) return { session: idKey(event.session) };
  return event;
}

/** A cached user: the row (undefined when the user does not exist) and, once asked for, its frozen wire form. */
export interface CachedUser {
  readonly user: UserRecord | undefined;
  readonly loadedAt: number;
  /** The user's groups, loaded with the user (NO_MEMBERSHIPS for a user in none). */
  readonly memberships: MembershipView;
  publicUser?: User;
}

/** The notification channel of a schema (lower-case: PGlite sends LISTEN unquoted). */
export function revocationChannel(schema: string): string {
  const name = `authlib_${schema.toLowerCase()}`;
  return name.length <= 63 ? name : `authlib_${createHash('sha256').update(schema).digest('hex').slice(0, 32)}`;
}

/**
 * The one place that decides whether an access token has been revoked. Everything it needs is
 * kept in memory so that `requireAuth` reads no database row per request:
 * - per user: the current token version, roles and active flag (a token with an older `ver` is dead);
 * - per session: the set of revoked sessions (a token whose `sid` is there is dead).
 * Users and sessions are keyed by their id's canonical spelling (`idKey`), whatever spelling a
 * caller, an event or a log row used.
 * A change goes through `commit`: announced inside the transaction that makes it (NOTIFY is
 * delivered on commit) and applied here at once; every instance LISTENs and applies the others'.
 */
export class Revocation {
  readonly #users = new Map<string, CachedUser>();
  /** API tokens by id, as last read; evicted when one is deleted anywhere (see `apiToken` events). */
  readonly #apiTokens = new Map<string, { row: ApiTokenRow; loadedAt: number }>();
  /** Bumped by every API-token event, so a read that raced a deletion is not cached. */
  #apiTokenEpoch = 0;
  readonly #loading = new Map<string, Promise<CachedUser>>();
  /** session id -> ms after which no access token of it can still be valid anyway. */
  readonly #revokedSessions = new Map<string, number>();
  readonly #channel: string;
  #stopListening: (() => Promise<void>) | undefined;
  #poller: RevocationPoller | undefined;
  #loggedPrunedAt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay = LISTEN_RETRY_MS;
  #prunedAt = 0;
  #closed = false;
  #loadMemberships: MembershipLoader | undefined;
  readonly #onGroupsChanged: Array<() => void> = [];

  constructor(
    private readonly db: () => Promise<Kysely<Database>>,
    private readonly clock: () => Date,
    /** The longest an access token can live (impersonation tokens included): how long a revoked login is remembered. */
    private readonly longestTokenSeconds: number,
    schema: string,
    private readonly logger: Logger,
  ) {
    this.#channel = revocationChannel(schema);
  }

  /**
   * Subscribes to other instances' announcements (LISTEN, or polling the revocation log where
   * there is no connection to LISTEN on), then loads the recently revoked logins.
   */
  async start(connection: Connection): Promise<void> {
    if (!connection.listen) {
      if (!this.#poller) {
        this.logger.info({}, 'express-authlib: no connection to LISTEN on (pass listenDsn); polling the revocation log instead');
        this.#poller = new RevocationPoller(connection.db, (payload) => this.#onMessage(payload), this.logger);
      }
      await this.#poller.start();
    } else if (!this.#stopListening && !this.#retryTimer) {
      await this.#listen(connection);
    }
    await this.#warm(connection.db);
  }

  /** How to load the groups of a user who has any (set once the groups service exists). */
  loadMembershipsWith(loader: MembershipLoader): void {
    this.#loadMemberships = loader;
  }

  /** Called (on this instance) whenever the group hierarchy or a group's slug changed anywhere. */
  onGroupsChanged(listener: () => void): void {
    this.#onGroupsChanged.push(listener);
  }

  /**
   * Runs `work` in one transaction and announces `event` in that same transaction, so every
   * instance hears of it exactly when it commits; applies it here right after the commit. To
   * announce nothing (the user does not exist), `work` throws: the transaction rolls back.
   */
  async commit<T>(db: Kysely<Database>, event: RevocationEvent, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    const result = await db.transaction().execute(async (trx) => {
      const outcome = await work(trx);
      await this.announce(trx, event);
      return outcome;
    });
    this.apply(event);
    return result;
  }

  /**
   * Announces `event` to every instance when the caller's transaction commits, for work that only
   * learns inside its transaction whether it revoked anything; the caller then `apply`s it here.
   */
  async announce(trx: Transaction<Database>, given: RevocationEvent): Promise<void> {
    const event = canonicalEvent(given);
    await notifyOnCommit(trx, this.#channel, JSON.stringify(event));
    // For instances that poll instead of LISTENing; old rows go at most once a minute per instance.
    await logRevocation(trx, event);
    if (Date.now() - this.#loggedPrunedAt > 60_000) {
      this.#loggedPrunedAt = Date.now();
      await pruneRevocations(trx);
    }
  }

  /** Applies `event` to this instance now (after the change committed). */
  apply(given: RevocationEvent): void {
    // Also the events of other instances and of log rows written before ids were canonical.
    const event = canonicalEvent(given);
    if ('user' in event) {
      this.#users.delete(event.user);
      this.#loading.delete(event.user);
      // A change of a user may have revoked the service keys they minted (see ServiceKeyStanding).
      this.#forgetServiceKeysBy(event.user);
    } else if ('apiToken' in event) {
      this.#apiTokenEpoch += 1;
      this.#apiTokens.delete(event.apiToken);
    } else if ('groups' in event) {
      // Loads in flight are dropped too: they may have read the hierarchy before the change.
      this.#users.clear();
      this.#loading.clear();
      // A hierarchy edit may have revoked service keys of any group below it: re-read them all.
      this.#apiTokenEpoch += 1;
      this.#apiTokens.clear();
      for (const listener of this.#onGroupsChanged) listener();
    } else {
      this.#pruneSessions();
      this.#revokedSessions.set(event.session, Date.now() + this.longestTokenSeconds * 1000);
    }
  }

  /** Drops the cached service keys `userId` minted, and any read of a token racing this. */
  #forgetServiceKeysBy(userId: string): void {
    this.#apiTokenEpoch += 1;
    for (const [id, entry] of this.#apiTokens) if (entry.row.created_by === userId) this.#apiTokens.delete(id);
  }

  /** The user as the cache knows it (loading it once when cold). A stale entry is served while the database is down. */
  async cachedUser(userId: string): Promise<UserRecord | undefined> {
    return (await this.cachedEntry(userId)).user;
  }

  /**
   * The user with their memberships, as cached or as just read (loading it once when cold). What
   * was read is returned even when an invalidation that arrived meanwhile keeps it out of the
   * cache: the request that asked still gets the user's memberships as read after the change,
   * never none. A stale entry is served while the database is down.
   */
  async cachedEntry(id: string): Promise<CachedUser> {
    if (this.#closed) throw new ServiceUnavailableError();
    const userId = idKey(id);
    const entry = this.#users.get(userId);
    if (entry && Date.now() - entry.loadedAt < USER_CACHE_TTL_MS) return entry;
    try {
      return await this.#load(userId);
    } catch (err) {
      if (entry && isDatabaseUnavailable(err) && !this.#closed) return entry;
      // The database gone under a load (close() ending the embedded database's thread, say) is a
      // 503 to whoever asked, as everywhere else, not the driver's own error.
      throw asServiceUnavailable(err);
    }
  }

  /**
   * Whether close() has run: the instance no longer hears of revocations, so nothing it holds may
   * decide a request any more (its caches would accept a token another instance has revoked).
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The cached entry of a user if it is fresh, without waiting (the request path's fast lane);
   * undefined when the user must be loaded through `cachedUser`.
   */
  peekUser(userId: string): CachedUser | undefined {
    const entry = this.#users.get(idKey(userId));
    return entry && Date.now() - entry.loadedAt < USER_CACHE_TTL_MS ? entry : undefined;
  }

  /**
   * The wire form of a cached user, built once per entry and deeply frozen: every request of that
   * user shares it, so no route can change what the next request sees.
   */
  publicUser(entry: CachedUser, user: UserRecord): User {
    return (entry.publicUser ??= deepFreeze(toPublicUser(user)));
  }

  /** A fresh cached API-token row, without waiting; undefined when it must be read. */
  peekApiToken(id: string): ApiTokenRow | undefined {
    const entry = this.#apiTokens.get(id);
    return entry && Date.now() - entry.loadedAt < USER_CACHE_TTL_MS ? entry.row : undefined;
  }

  /** The epoch to pass to `rememberApiToken` for a read starting now. */
  apiTokenEpoch(): number {
    return this.#apiTokenEpoch;
  }

  /** Caches a row read when the epoch was `epoch`, unless a token was deleted since. */
  rememberApiToken(row: ApiTokenRow, epoch: number): void {
    if (epoch !== this.#apiTokenEpoch) return;
    if (this.#apiTokens.size >= USER_CACHE_MAX) this.#apiTokens.delete(this.#apiTokens.keys().next().value!);
    this.#apiTokens.set(row.id, { row: deepFreeze(row), loadedAt: Date.now() });
  }

  isSessionRevoked(sessionId: string): boolean {
    return this.#revokedSessions.has(idKey(sessionId));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#poller?.close();
    const stop = this.#stopListening;
    this.#stopListening = undefined;
    await stop?.().catch(() => undefined);
  }

  async #listen(connection: Connection): Promise<void> {
    if (!connection.listen) return;
    try {
      this.#stopListening = await connection.listen(
        this.#channel,
        (payload) => this.#onMessage(payload),
        (err) => this.#lost(connection, err),
      );
      this.#retryDelay = LISTEN_RETRY_MS;
    } catch (err) {
      this.#lost(connection, err);
    }
  }

  /** A NOTIFY payload (a JSON string) or a logged event (already parsed). */
  #onMessage(payload: unknown): void {
    try {
      const event = (typeof payload === 'string' ? JSON.parse(payload) : payload) as Partial<{
        user: unknown;
        session: unknown;
        apiToken: unknown;
        groups: unknown;
      }>;
      if (typeof event.user === 'string') this.apply({ user: event.user });
      else if (event.groups === true) this.apply(GROUPS_CHANGED);
      else if (typeof event.session === 'string') this.apply({ session: event.session });
      else if (typeof event.apiToken === 'string') this.apply({ apiToken: event.apiToken });
    } catch {
      // Not ours: someone else's payload on this channel.
    }
  }

  /** The listening connection died: whatever was announced meanwhile is unknown, so start over once it is back. */
  #lost(connection: Connection, err: unknown): void {
    this.#stopListening = undefined;
    if (this.#closed || this.#retryTimer) return;
    this.logger.warn({ err: { message: (err as Error)?.message } }, 'express-authlib: revocation listener lost; reconnecting');
    this.#retryTimer = setTimeout(async () => {
      this.#retryTimer = undefined;
      if (this.#closed) return;
      this.#retryDelay = Math.min(this.#retryDelay * 2, LISTEN_RETRY_MAX_MS);
      await this.#listen(connection);
      if (!this.#stopListening) return;
      this.#users.clear();
      this.#loading.clear();
      this.#apiTokens.clear();
      this.#apiTokenEpoch += 1;
      await this.#warm(connection.db).catch((e: Error) =>
        this.logger.warn({ err: { message: e.message } }, 'express-authlib: reloading revoked logins failed'),
      );
    }, this.#retryDelay);
    this.#retryTimer.unref();
  }

  /** Loads the logins revoked recently enough that access tokens of theirs may still be unexpired. */
  async #warm(db: Kysely<Database>): Promise<void> {
    const since = new Date(this.clock().getTime() - this.longestTokenSeconds * 1000);
    for (const sessionId of await sessionsRevokedSince(db, since)) this.apply({ session: sessionId });
  }

  #load(userId: string): Promise<CachedUser> {
    let pending = this.#loading.get(userId);
    if (!pending) {
      pending = this.db()
        .then(async (db) => {
          const user = await findUserById(db, userId);
          // The groups come with the user, so that a guard naming a group reads nothing per request;
          // only users who are in a group cost the extra query.
          const memberships = user?.in_groups && this.#loadMemberships ? await this.#loadMemberships(db, userId) : NO_MEMBERSHIPS;
          return { user, memberships };
        })
        .then(({ user, memberships }) => {
          // Frozen: the roles array and the memberships are handed to every request of this user.
          const loaded: CachedUser = { user: user && deepFreeze(user), loadedAt: Date.now(), memberships };
          // Only keep the result if nobody invalidated the user while it was being read.
          if (this.#loading.get(userId) === pending) {
            if (this.#users.size >= USER_CACHE_MAX) this.#users.delete(this.#users.keys().next().value!);
            this.#users.set(userId, loaded);
          }
          return loaded;
        })
        .finally(() => {
          if (this.#loading.get(userId) === pending) this.#loading.delete(userId);
        });
      this.#loading.set(userId, pending);
    }
    return pending;
  }

  /** Drops logins whose access tokens have all expired; at most once a minute, so a burst of revocations stays O(1) each. */
  #pruneSessions(): void {
    const now = Date.now();
    if (now - this.#prunedAt < 60_000) return;
    this.#prunedAt = now;
    for (const [id, until] of this.#revokedSessions) if (until <= now) this.#revokedSessions.delete(id);
  }
}
