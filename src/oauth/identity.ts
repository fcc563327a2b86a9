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

/** The provider's tokens as the token endpoint gave them, captured during one run. */
export interface CapturedTokens {
  accessToken?: unknown;
  refreshToken?: unknown;
  params?: Record<string, unknown>;
}

/**
 * Normalises what a strategy's verify callback produced: a passport profile (`id`, `username`,
 * `displayName`, `emails: [{value, verified}]`), or OpenID Connect claims (`sub`, `email`,
 * `email_verified`, `preferred_username`, `name`), as openid-client's `tokens.claims()` gives.
 */
export function toIdentity(user: unknown, tokens: CapturedTokens, requestedScopes: string[]): ProviderIdentity | undefined {
  if (user === null || typeof user !== 'object') return undefined;
  const profile = user as Record<string, unknown>;
  const id = profile.id ?? profile.sub;
  const providerUserId = typeof id === 'number' ? String(id) : str(id);
  if (!providerUserId) return undefined;
  const { email, verified } =
    profile.emails !== undefined ? pickEmail(profile.emails) : { email: str(profile.email), verified: profile.email_verified === true };
  return {
    providerUserId,
    login: str(profile.username) ?? str(profile.preferred_username) ?? email?.split('@')[0],
    email,
    emailVerified: Boolean(email) && verified,
    realName: str(profile.displayName) ?? str(profile.name),
    accessToken: str(tokens.accessToken),
    refreshToken: str(tokens.refreshToken),
    scopes: grantedScopes(tokens.params, requestedScopes),
  };
}
