import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { PasswordHasher } from '../passwords/hasher.js';

const PREFIX = '$authlib-test-sha256$';
const PLAIN_BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/**
 * A password hasher for tests only: salted SHA-256, microseconds per call and no worker threads.
 * Worthless against an attacker holding the hashes, which is why it lives in
 * `express-authlib/testing`. Plain bcrypt hashes (fixtures imported from elsewhere) still verify.
 */
export const testHasher: PasswordHasher = {
  async hash(password) {
    const salt = randomBytes(16).toString('base64url');
    return `${PREFIX}${salt}$${digest(salt, password)}`;
  },
  async verify(password, stored) {
    if (stored.startsWith(PREFIX)) {
      const [salt, hash] = stored.slice(PREFIX.length).split('$');
      if (!salt || !hash) return false;
      const expected = Buffer.from(hash);
      const actual = Buffer.from(digest(salt, password));
      return expected.length === actual.length && timingSafeEqual(expected, actual);
    }
    return PLAIN_BCRYPT.test(stored) && bcrypt.compare(password, stored);
  },
};

function digest(salt: string, password: string): string {
  return createHash('sha256').update(salt).update('\0').update(password.normalize('NFKC'), 'utf8').digest('base64url');
}
