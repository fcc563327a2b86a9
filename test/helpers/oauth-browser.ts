import type request from 'supertest';
import type { Response } from 'supertest';

type Agent = ReturnType<typeof request>;

/**
 * The browsers of the tests: the binding cookie each flow was begun with, by the flow's state. A
 * test that begins a flow hands the response to `rememberBrowser`; the callback helpers then send
 * the cookie of the browser that began it, as a real browser would.
 */
const jar = new Map<string, string>();

function stateOf(url: string): string | null {
  try {
    return new URL(url, 'http://x').searchParams.get('state');
  } catch {
    return null;
  }
}

/** The `name=value` of the OAuth binding cookie a response set, if any. */
export function cookieSetBy(res: Response): string | undefined {
  const header = res.headers['set-cookie'] as unknown as string[] | string | undefined;
  const list = Array.isArray(header) ? header : header ? [header] : [];
  return list.map((c) => c.split(';')[0]!).find((c) => /^(__Host-)?authlib_oauth=./.test(c));
}

/** Records the cookie a begin response (JSON `redirect_url` or a 302) set, under its flow's state. Returns the response. */
export function rememberBrowser(res: Response): Response {
  const url = (res.body as { redirect_url?: string } | undefined)?.redirect_url ?? res.headers.location;
  const cookie = cookieSetBy(res);
  const state = url ? stateOf(url) : null;
  if (state && cookie) jar.set(state, cookie);
  return res;
}

/** The `Cookie` header of the browser that began the flow whose state `url` carries ('' if unknown). */
export function browserCookieFor(url: string): string {
  const state = stateOf(url);
  return (state && jar.get(state)) ?? '';
}

/**
 * Plays the browser at the provider: GETs the authorization URL the app handed out (the fake
 * provider "approves" at once) and returns where the provider sends the browser back to, as
 * the path + query to call on the app (the origin, the app's `publicUrl`, is stripped) and as
 * the full URL, with the cookie of the browser that began the flow. Throws when the provider does
 * not redirect back (it rejected the request).
 */
export async function authorizeAt(redirectUrl: string): Promise<{ callbackPath: string; callbackUrl: URL; cookie: string }> {
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
  return { callbackPath: `${callbackUrl.pathname}${callbackUrl.search}`, callbackUrl, cookie: browserCookieFor(redirectUrl) };
}

/**
 * The whole browser round trip: provider authorize page, then the app's callback (through the
 * supertest agent, at the path the provider redirected to, with the starting browser's cookie).
 * Returns the app's response.
 */
export async function followOAuth(http: Agent, redirectUrl: string): Promise<Response> {
  const { callbackPath, cookie } = await authorizeAt(redirectUrl);
  return http.get(callbackPath).set('Cookie', cookie);
}
