import type { ProviderLogin } from './providers.js';

/** What we take from a provider login, whatever the provider. */
export interface ProviderIdentity {
  providerUserId: string;
  /** A login name to derive a username from (GitHub's `login`, else the email's local part). */
  login: string | undefined;
  email: string | undefined;
  /** Only true when the provider asserts it; an unverified email never links accounts. */
  emailVerified: boolean;
  realName: string | undefined;
  accessToken: string | undefined;
  refreshToken: string | undefined;
  scopes: string[];
}

interface ProfileEmail {
  value?: unknown;
  verified?: unknown;
  primary?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const truthy = (v: unknown) => v === true || v === 'true';

/**
 * The email to use: the primary one if the provider marks one (GitHub), else the first. It counts as
 * verified only if the provider says so for that very address.
 */
function pickEmail(emails: unknown): { email: string | undefined; verified: boolean } {
  if (!Array.isArray(emails)) return { email: undefined, verified: false };
  const list = emails.filter((e): e is ProfileEmail => e !== null && typeof e === 'object' && typeof (e as ProfileEmail).value === 'string');
  const chosen = list.find((e) => truthy(e.primary)) ?? list[0];
  return chosen ? { email: chosen.value as string, verified: truthy(chosen.verified) } : { email: undefined, verified: false };
}

function grantedScopes(params: Record<string, unknown> | undefined, requested: string[]): string[] {
  const scope = params?.scope;
  if (typeof scope === 'string' && scope.trim() !== '') return [...new Set(scope.split(/[\s,]+/).filter(Boolean))];
  return requested;
}

/**
 * Normalises what a strategy's verify callback produced: our built-in strategies give
 * `{ profile, accessToken, refreshToken, params }`; a custom strategy may give a bare passport profile.
 */
export function toIdentity(user: unknown, requestedScopes: string[]): ProviderIdentity | undefined {
  if (user === null || typeof user !== 'object') return undefined;
  const login = ('profile' in user ? user : { profile: user }) as ProviderLogin;
  const profile = login.profile ?? {};
  const id = profile.id;
  const providerUserId = typeof id === 'number' ? String(id) : str(id);
  if (!providerUserId) return undefined;
  const { email, verified } = pickEmail(profile.emails);
  return {
    providerUserId,
    login: str(profile.username) ?? email?.split('@')[0],
    email,
    emailVerified: verified,
    realName: str(profile.displayName),
    accessToken: str(login.accessToken),
    refreshToken: str(login.refreshToken),
    scopes: grantedScopes(login.params, requestedScopes),
  };
}
