import type { EventOrigin } from '../security/audit.js';
import type { ServiceContext } from './context.js';

/**
 * Whether `password` is the account's, counted like a login under its username: every place that
 * checks an account's password (`/change-password`, `/mfa/*`, the confirmation links) shares the
 * failed-login delays of `/login`, so none of them is a way around them. Without an address
 * (programmatic calls) nothing is counted, as for logins.
 */
export async function accountPasswordMatches(
  ctx: Pick<ServiceContext, 'throttle' | 'hasher'>,
  user: { username: string; password_hash: string | null },
  password: string | undefined,
  origin: EventOrigin | undefined,
): Promise<boolean> {
  const ip = origin?.ip;
  const attempt = ip === undefined ? undefined : await ctx.throttle?.begin({ identifier: user.username }, ip);
  const matches = password !== undefined && user.password_hash !== null && (await ctx.hasher.verify(password, user.password_hash));
  if (matches) await attempt?.succeeded();
  return matches;
}
