import type { BackgroundTasks } from '../background-tasks.js';
import type { DatabaseGate } from '../db/database-gate.js';
import type { Logger } from '../logger.js';
import type { MailDispatcher } from '../mail/mailer.js';
import type { ResolvedOptions } from '../options.js';
import type { PasswordHasher } from '../passwords/hasher.js';
import type { Audit } from '../security/audit.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import type { Revocation } from '../security/revocation.js';
import type { SecondFactorLimit } from '../security/second-factor-limit.js';

/** What every service is built from: resolved once by AuthManager. */
export interface ServiceContext {
  opts: ResolvedOptions;
  database: DatabaseGate;
  hasher: PasswordHasher;
  revocation: Revocation;
  logger: Logger;
  audit: Audit;
  /** Per-account failed-login delays; undefined when rate limiting is off. */
  throttle: LoginThrottle | undefined;
  /** Per-account limit on wrong second factors and email codes (counting nothing when rate limiting is off). */
  secondFactors: SecondFactorLimit;
  /** Work that outlives a request; `close()` waits for it. */
  background: BackgroundTasks;
  /** Account mail; undefined without a `mailer` (the mail endpoints then answer 501). */
  mailer: MailDispatcher | undefined;
}
