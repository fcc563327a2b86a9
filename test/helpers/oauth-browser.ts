import type request from 'supertest';
import type { Response } from 'supertest';

type Agent = ReturnType<typeof request>;

/**
 * Plays the browser at the provider: GETs the authorization URL the app handed out (the fake
 * provider "approves" at once) and returns where the provider sends the browser back to, as
 * the path + query to call on the app (the origin, the app's `publicUrl`, is stripped) and as
 * the full URL. Throws when the provider does not redirect back (it rejected the request).
 */
export async function authorizeAt(redirectUrl: string): Promise<{ callbackPath: string; callbackUrl: URL }> {
  const res = await fetch(redirectUrl, { redirect: 'manual' });
  const location = res.headers.get('location');
  const text = await res.text().catch(() => '');
  if (res.status < 300 || res.status > 399 || !location) {
    throw new Error(`provider did not redirect back: ${res.status} ${text.slice(0, 300)}`);
  }
  const callbackUrl = new URL(location, redirectUrl);
  if (callbackUrl.origin === new URL(redirectUrl).origin) {
    throw new Error(`provider rejected the authorization request: ${callbackUrl.href}`);
  }
  return { callbackPath: `${callbackUrl.pathname}${callbackUrl.search}`, callbackUrl };
}

/**
 * The whole browser round trip: provider authorize page, then the app's callback (through the
 * supertest agent, at the path the provider redirected to). Returns the app's response.
 */
export async function followOAuth(http: Agent, redirectUrl: string): Promise<Response> {
  const { callbackPath } = await authorizeAt(redirectUrl);
  return http.get(callbackPath);
}
