import type { Kysely } from 'kysely';
import { findUserById, type UserRecord } from '../db/users-repository.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import type { Database } from '../db/schema.js';

/** How long a cached user (roles, active flag, token version) is trusted before it is re-read. */
export const USER_CACHE_TTL_MS = 30_000;
/** Upper bound on cached users; the oldest entry goes first. */
export const USER_CACHE_MAX = 10_000;

interface Entry {
  user: UserRecord | undefined;
  loadedAt: number;
}

/**
 * The one place that decides whether an access token has been revoked. Everything it needs is
 * kept in memory so that `requireAuth` reads no database row per request:
 * - per user: the current token version, roles and active flag (a token with an older `ver` is dead);
 * - per login: the set of revoked refresh-token families (a token whose `sid` is there is dead).
 * Whoever changes one of these in the database calls `userChanged` / `sessionRevoked` here.
 */
export class Revocation {
  readonly #users = new Map<string, Entry>();
  readonly #loading = new Map<string, Promise<UserRecord | undefined>>();
  /** family id -> ms after which no access token of it can still be valid anyway. */
  readonly #revokedSessions = new Map<string, number>();

  constructor(
    private readonly db: () => Promise<Kysely<Database>>,
    private readonly clock: () => Date,
    private readonly tokenExpirySeconds: number,
  ) {}

  /** Loads the families revoked recently enough that access tokens of theirs may still be unexpired. */
  async warm(db: Kysely<Database>): Promise<void> {
    const since = new Date(this.clock().getTime() - this.tokenExpirySeconds * 1000);
    const rows = await db.selectFrom('refresh_tokens').select('family_id').distinct().where('revoked_at', '>', since).execute();
    for (const row of rows) this.sessionRevoked(row.family_id);
  }

  /** The user as the cache knows it (loading it once when cold). A stale entry is served while the database is down. */
  async user(userId: string): Promise<UserRecord | undefined> {
    const now = Date.now();
    const entry = this.#users.get(userId);
    if (entry && now - entry.loadedAt < USER_CACHE_TTL_MS) return entry.user;
    try {
      return await this.#load(userId);
    } catch (err) {
      if (entry && isDatabaseUnavailable(err)) return entry.user;
      throw err;
    }
  }

  /** A user's roles, version or active flag changed: forget what we knew. */
  userChanged(userId: string): void {
    this.#users.delete(userId);
    this.#loading.delete(userId);
  }

  /** A login's refresh-token family was revoked: its access tokens die with it. */
  sessionRevoked(familyId: string): void {
    this.#pruneSessions();
    this.#revokedSessions.set(familyId, Date.now() + this.tokenExpirySeconds * 1000);
  }

  isSessionRevoked(familyId: string): boolean {
    return this.#revokedSessions.has(familyId);
  }

  #load(userId: string): Promise<UserRecord | undefined> {
    let pending = this.#loading.get(userId);
    if (!pending) {
      pending = this.db()
        .then((db) => findUserById(db, userId))
        .then((user) => {
          // Only keep the result if nobody invalidated the user while it was being read.
          if (this.#loading.get(userId) === pending) {
            if (this.#users.size >= USER_CACHE_MAX) this.#users.delete(this.#users.keys().next().value!);
            this.#users.set(userId, { user, loadedAt: Date.now() });
          }
          return user;
        })
        .finally(() => {
          if (this.#loading.get(userId) === pending) this.#loading.delete(userId);
        });
      this.#loading.set(userId, pending);
    }
    return pending;
  }

  #pruneSessions(): void {
    const now = Date.now();
    for (const [id, until] of this.#revokedSessions) if (until <= now) this.#revokedSessions.delete(id);
  }
}
