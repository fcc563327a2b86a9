import { createHmac } from 'node:crypto';
import { BcryptWorkerPool } from './worker-pool.js';

/** Hashes and verifies passwords. Inject your own through the `hasher` option. */
export interface PasswordHasher {
  /** A self-describing hash of `password`. */
  hash(password: string): Promise<string>;
  /** Whether `password` matches `stored`; false (never a throw) for a hash it does not understand. */
  verify(password: string, stored: string): Promise<boolean>;
  /** Releases workers. */
  close?(): Promise<void>;
}

/** Marks hashes whose input was pre-hashed (see `prehash`); plain `$2a$`/`$2b$`/`$2y$` hashes are verified as they are. */
export const PREHASH_PREFIX = '$authlib-hmac-sha256';
const PREHASH_KEY = 'express-authlib bcrypt prehash v1';
const PLAIN_BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/**
 * bcrypt reads only the first 72 bytes, so two long passwords sharing a prefix would verify each
 * other. HMAC-SHA-256 -> base64 (44 ASCII bytes) keeps every byte significant. NFKC first, so the
 * same password typed on different keyboards matches.
 */
function prehash(password: string): string {
  return createHmac('sha256', PREHASH_KEY).update(password.normalize('NFKC'), 'utf8').digest('base64');
}

/** The default hasher: bcryptjs at `rounds`, run in a worker pool off the event loop. */
export class BcryptHasher implements PasswordHasher {
  readonly #pool: BcryptWorkerPool;

  constructor(
    private readonly rounds: number,
    pool = new BcryptWorkerPool(),
  ) {
    this.#pool = pool;
  }

  async hash(password: string): Promise<string> {
    return PREHASH_PREFIX + (await this.#pool.hash(prehash(password), this.rounds));
  }

  async verify(password: string, stored: string): Promise<boolean> {
    if (stored.startsWith(PREHASH_PREFIX)) {
      const bcryptHash = stored.slice(PREHASH_PREFIX.length);
      return PLAIN_BCRYPT.test(bcryptHash) && this.#pool.compare(prehash(password), bcryptHash);
    }
    // Imported from elsewhere: plain bcrypt over the raw password.
    return PLAIN_BCRYPT.test(stored) && this.#pool.compare(password, stored);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
