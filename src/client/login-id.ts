// Which login a token belongs to, as the client tells logins apart: its user and its session.

/**
 * `<sub> <sid>` of an access token (`<sub> <fam>` of a refresh token), read from its payload
 * without verifying it (the server does that; the client only compares logins), or null when
 * the token is not a JWT with both claims.
 */
export function loginIdOf(token: string | null | undefined): string | null {
  const payload = token?.split('.')[1];
  if (!payload) return null;
  try {
    const json = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const claims = JSON.parse(json) as { sub?: unknown; sid?: unknown; fam?: unknown };
    const session = claims.sid ?? claims.fam;
    return typeof claims.sub === 'string' && typeof session === 'string' ? `${claims.sub} ${session}` : null;
  } catch {
    return null;
  }
}

/** 32 random bytes, base64url: the one-time value of an OAuth flow begun in this tab. */
export function randomState(): string {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
