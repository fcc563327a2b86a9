import type { IncomingMessage } from 'node:http';
import { ipKeyGenerator } from 'express-rate-limit';
import type { DatabaseGate } from '../db/database-gate.js';
import { identityKey } from '../identity-key.js';
import { createLimiter, type RateLimitOptions } from '../security/rate-limit.js';
import { sha256 } from '../tokens/secrets.js';
import { mailTargetOf } from './mail-target.js';

/** The signed-in caller's id, once `requireAuth` has run. */
const callerId = (req: IncomingMessage) => (req as { auth?: { user?: { id?: string } } }).auth?.user?.id;

/**
 * The limiter middleware of each route group (the failed-login limits are not among them: the
 * login throttle counts those, see security/login-throttle.ts).
 */
export function routeLimiters(rateLimit: false | RateLimitOptions, deps: { store: DatabaseGate; clientIp: (req: IncomingMessage) => string; now: () => Date }) {
  const limiter = (name: 'register' | 'refresh' | 'oauth' | 'oauthCallback' | 'mail' | 'passkey') => createLimiter(name, rateLimit, deps);
  // A signed-in caller's failures count against its account, so one member of an office cannot
  // spend the budget of everyone behind the same address; anonymous ones count per address.
  const accountOrAddress = (req: IncomingMessage) => {
    const userId = callerId(req);
    return userId ? `u:${userId}` : `a:${ipKeyGenerator(deps.clientIp(req))}`;
  };
  return {
    register: limiter('register'),
    refresh: limiter('refresh'),
    oauth: limiter('oauth'),
    oauthCallback: limiter('oauthCallback'),
    mail: limiter('mail'),
    // Per target address, whoever asks; keyed by a hash so the counters hold no addresses.
    // The address is the one the route parsed and will mail (mail-target.ts), never another field.
    mailTarget: createLimiter('mailTarget', rateLimit, deps, (req) => {
      const email = mailTargetOf(req);
      return email === undefined ? undefined : sha256(identityKey(email));
    }),
    code: createLimiter('code', rateLimit, deps, accountOrAddress),
    passkey: limiter('passkey'),
    // Per inviting account (the route runs it after authentication), whatever the answer.
    invitation: createLimiter('invitation', rateLimit, deps, callerId),
  };
}
