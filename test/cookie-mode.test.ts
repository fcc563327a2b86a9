import * as OTPAuth from 'otpauth';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, PASSWORD, registerUser, type TestApp, verifiedUser } from './helpers/app.js';
import { rawQuery } from './helpers/database.js';
import { BASE, expectError, uniqueName } from './helpers/endpoints.js';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.js';
import { mailbox, type Mailbox } from './helpers/mailbox.js';
import { authorizeAt, rememberBrowser } from './helpers/oauth-browser.js';

// Cookie mode: the refresh token in an HttpOnly cookie, /token-refresh and /logout reading it,
// behind an Origin allow-list and a CSRF token bound to the login. Attacks are played as a
// browser on another origin would send them: the victim's cookie rides along, the page's origin
// is in Origin (or nothing is), and the page cannot read the victim's token responses.

const PUBLIC_URL = 'http://app.test';
const FRONT = 'https://front.test';
const EVIL = 'https://evil.test';
const CALLBACK = `${PUBLIC_URL}${BASE}/login/oauth2callback`;
// `__Host-` (cookies.secure defaults to true): no other host can set, overwrite or shadow it.
const COOKIE = '__Host-authlib_refresh';

let t: TestApp;
let box: Mailbox;
let github: FakeGitHub;

beforeAll(async () => {
  box = mailbox();
  github = await startFakeGitHub({ callbackURL: CALLBACK });
  t = await createTestApp({
    publicUrl: PUBLIC_URL,
    mailer: box.mailer,
    oauthConfig: { github: { clientId: github.clientId, clientSecret: github.clientSecret, ...github.urls } },
    allowedRedirects: [FRONT],
    cookies: { allowedOrigins: [FRONT] },
  });
});
afterAll(async () => {
  await t?.close();
  await github?.stop();
});

/** A login of this browser in cookie mode: the refresh cookie's value and the CSRF token. */
interface CookieLogin {
  cookie: string;
  csrf: string;
  token: string;
}

function setCookies(res: Response): string[] {
  const header = res.headers['set-cookie'] as unknown as string[] | string | undefined;
  return Array.isArray(header) ? header : header ? [header] : [];
}

/** The refresh cookies a response set, with their attributes (lower-cased names). */
function refreshCookies(res: Response): Array<{ value: string; attrs: Record<string, string> }> {
  return setCookies(res)
    .filter((c) => c.startsWith(`${COOKIE}=`))
    .map((c) => {
      const [pair, ...rest] = c.split(';').map((p) => p.trim());
      const attrs = Object.fromEntries(rest.map((a) => [a.split('=')[0]!.toLowerCase(), a.split('=').slice(1).join('=')]));
      return { value: decodeURIComponent(pair!.slice(COOKIE.length + 1)), attrs };
    });
}

/** Asserts a response delivered a login in cookie mode, and returns it. */
function expectCookieLogin(res: Response, status = 200): CookieLogin {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body).not.toHaveProperty('refresh_token');
  expect(res.body.csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const cookies = refreshCookies(res);
  // One host-only cookie for the whole host: `__Host-` demands Path=/ and no Domain.
  expect(cookies.map((c) => c.attrs.path)).toEqual(['/']);
  for (const c of cookies) {
    expect(c.attrs).toHaveProperty('httponly');
    expect(c.attrs).toHaveProperty('secure');
    expect(c.attrs.samesite).toBe('Strict');
    expect(Number(c.attrs['max-age'])).toBeGreaterThan(2_591_000);
    expect(c.attrs).not.toHaveProperty('domain');
    expect(c.value).toBe(cookies[0]!.value);
  }
  // Sealed (AES-256-GCM, `v1.<iv>.<data>.<tag>`): no refresh token a body would take.
  expect(cookies[0]!.value).toMatch(/^v2\.[\w-]+\.[\w-]+\.[\w-]+$/);
  return { cookie: cookies[0]!.value, csrf: res.body.csrf_token as string, token: res.body.token as string };
}

const fromFront = { Origin: FRONT };

async function loginWithCookie(username: string): Promise<CookieLogin> {
  return expectCookieLogin(await t.http.post(`${BASE}/login`).set(fromFront).send({ username, password: PASSWORD, refresh_token_in: 'cookie' }));
}

async function newLogin(): Promise<CookieLogin & { username: string; userId: string }> {
  const u = await registerUser(t);
  return { ...(await loginWithCookie(u.username)), username: u.username, userId: u.user.id };
}

/** POST `path` as the browser holding `cookie` would, with the given extra headers. */
function withCookie(path: string, cookie: string, headers: Record<string, string>) {
  return t.http.post(`${BASE}${path}`).set({ Cookie: `${COOKIE}=${encodeURIComponent(cookie)}`, ...headers });
}

const refreshAs = (l: CookieLogin, headers: Record<string, string> = { ...fromFront, 'X-CSRF-Token': l.csrf }) =>
  withCookie('/token-refresh', l.cookie, headers).send({});
const logoutAs = (l: CookieLogin, headers: Record<string, string> = { ...fromFront, 'X-CSRF-Token': l.csrf }) =>
  withCookie('/logout', l.cookie, headers).send({});

/** Refresh tokens of a user: how many rows, how many used, how many revoked. */
async function refreshRows(userId: string) {
  const rows = await rawQuery<{ used_at: Date | null; revoked_at: Date | null }>(
    `SELECT used_at, revoked_at FROM ${t.schema}.refresh_tokens WHERE user_id = $1`,
    [userId],
  );
  return { total: rows.length, used: rows.filter((r) => r.used_at).length, revoked: rows.filter((r) => r.revoked_at).length };
}

/** After a refused attack: nothing rotated or revoked, and the login still refreshes once. */
async function expectUntouched(l: CookieLogin & { userId: string }, before: Awaited<ReturnType<typeof refreshRows>>) {
  expect(await refreshRows(l.userId)).toEqual(before);
  expect((await t.http.get('/me').set(bearer(l.token))).status).toBe(200);
  expectCookieLogin(await refreshAs(l));
}

function totp(secret: string): string {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();
}

describe('every token-issuing endpoint can deliver the refresh token as a cookie', () => {
  it('POST /login', async () => {
    const l = await newLogin();
    expect((await t.http.get('/me').set(bearer(l.token))).status).toBe(200);
  });

  it('POST /register', async () => {
    const username = uniqueName('reg');
    const res = await t.http
      .post(`${BASE}/register`)
      .set(fromFront)
      .send({ username, password: PASSWORD, email: `${username}@example.com`, refresh_token_in: 'cookie' });
    const l = expectCookieLogin(res, 201);
    expect(res.body.user.username).toBe(username);
    expectCookieLogin(await refreshAs(l));
  });

  it('POST /login/otp', async () => {
    const u = await registerUser(t);
    const email = `${u.username}@example.com`;
    const otpId = (await t.http.post(`${BASE}/request-otp`).send({ email })).body.otp_id as string;
    const mail = await box.next('otp', email);
    const l = expectCookieLogin(await t.http.post(`${BASE}/login/otp`).set(fromFront).send({ otp_id: otpId, code: mail.code, refresh_token_in: 'cookie' }));
    expectCookieLogin(await refreshAs(l));
  });

  it('POST /login/mfa', async () => {
    const u = await verifiedUser(t);
    const setup = await t.http.post(`${BASE}/mfa/totp/setup`).set(bearer(u.token)).send({ password: PASSWORD });
    const confirm = await t.http
      .post(`${BASE}/mfa/totp/confirm`)
      .set(bearer(u.token))
      .send({ code: totp(setup.body.secret as string) });
    expect(confirm.status).toBe(200);
    const first = await t.http.post(`${BASE}/login`).set(fromFront).send({ username: u.username, password: PASSWORD, refresh_token_in: 'cookie' });
    expect(first.body.code).toBe('mfa_required');
    expect(refreshCookies(first)).toEqual([]);
    const second = await t.http
      .post(`${BASE}/login/mfa`)
      .set(fromFront)
      .send({ mfa_id: first.body.mfa_id, method: 'backup_code', code: confirm.body.backup_codes[0], refresh_token_in: 'cookie' });
    expectCookieLogin(await refreshAs(expectCookieLogin(second)));
  });

  it('POST /change-password', async () => {
    const u = await registerUser(t);
    const res = await t.http
      .post(`${BASE}/change-password`)
      .set({ ...bearer(u.token), ...fromFront })
      .send({ current_password: PASSWORD, password: `${PASSWORD} again`, refresh_token_in: 'cookie' });
    expect(res.body.success).toBe(true);
    expectCookieLogin(await refreshAs(expectCookieLogin(res)));
  });

  async function oauthCallback(extra: Record<string, unknown>): Promise<Response> {
    github.nextUser = github.makeUser({ email: `${uniqueName('gh')}@github.example` });
    const begin = rememberBrowser(
      await t.http
        .post(`${BASE}/login/oauth`)
        .set(fromFront)
        .send({ provider: 'github', refresh_token_in: 'cookie', ...extra }),
    );
    expect(begin.status, JSON.stringify(begin.body)).toBe(200);
    const reminder = setCookies(begin)
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith(`${COOKIE}_oauth=`));
    expect(reminder).toBeDefined();
    const { callbackPath, cookie } = await authorizeAt(begin.body.redirect_url as string);
    return t.http.get(callbackPath).set('Cookie', `${cookie}; ${reminder}`);
  }

  it('the OAuth callback, JSON form', async () => {
    const res = await oauthCallback({});
    expectCookieLogin(await refreshAs(expectCookieLogin(res)));
  });

  it('the OAuth callback, redirect form: the fragment holds token and csrf_token, never the refresh token', async () => {
    const res = await oauthCallback({ redirect_to: `${FRONT}/done` });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location as string);
    expect(location.origin).toBe(FRONT);
    const fragment = new URLSearchParams(location.hash.slice(1));
    expect([...fragment.keys()].sort()).toEqual(['csrf_token', 'token']);
    const cookies = refreshCookies(res);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]!.attrs.samesite).toBe('Strict');
    expectCookieLogin(await refreshAs({ cookie: cookies[0]!.value, csrf: fragment.get('csrf_token')!, token: fragment.get('token')! }));
  });

  it('the OAuth start by navigation (GET ?refresh_token_in=cookie) asks for the cookie too', async () => {
    github.nextUser = github.makeUser({ email: `${uniqueName('gh')}@github.example` });
    const begin = rememberBrowser(await t.http.get(`${BASE}/login/oauth/github?refresh_token_in=cookie&redirect_to=${encodeURIComponent(`${FRONT}/done`)}`));
    expect(begin.status).toBe(302);
    const reminder = setCookies(begin)
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith(`${COOKIE}_oauth=cookie`));
    expect(reminder).toBeDefined();
    const { callbackPath, cookie } = await authorizeAt(begin.headers.location as string);
    // A second reminder (planted to switch the delivery) is refused before the state is used.
    expectError(await t.http.get(callbackPath).set('Cookie', `${cookie}; ${COOKIE}_oauth=body; ${reminder}`), 400, 'duplicate_cookie');
    const res = await t.http.get(callbackPath).set('Cookie', `${cookie}; ${reminder}`);
    expect(res.status).toBe(302);
    const fragment = new URLSearchParams(new URL(res.headers.location as string).hash.slice(1));
    expect(fragment.has('refresh_token')).toBe(false);
    // The reminder is cleared with the flow.
    expect(setCookies(res).some((c) => c.startsWith(`${COOKIE}_oauth=;`))).toBe(true);
    expectCookieLogin(await refreshAs({ cookie: refreshCookies(res)[0]!.value, csrf: fragment.get('csrf_token')!, token: fragment.get('token')! }));
    expectError(await t.http.get(`${BASE}/login/oauth/github?refresh_token_in=jar`), 400, 'validation_error');
  });

  it('an OAuth flow begun without the opt-in still answers in bearer mode', async () => {
    github.nextUser = github.makeUser({ email: `${uniqueName('gh')}@github.example` });
    const begin = rememberBrowser(await t.http.post(`${BASE}/login/oauth`).send({ provider: 'github' }));
    const { callbackPath, cookie } = await authorizeAt(begin.body.redirect_url as string);
    const res = await t.http.get(callbackPath).set('Cookie', cookie);
    expect(res.status).toBe(200);
    expect(typeof res.body.refresh_token).toBe('string');
    expect(refreshCookies(res)).toEqual([]);
  });

  it('POST /token-refresh rotates the cookie; the CSRF token stays that of the login', async () => {
    const l = await newLogin();
    const next = expectCookieLogin(await refreshAs(l));
    expect(next.cookie).not.toBe(l.cookie);
    expect(next.csrf).toBe(l.csrf);
    expect((await t.http.get('/me').set(bearer(next.token))).status).toBe(200);
  });

  it('a bearer refresh token may move into the cookie with refresh_token_in', async () => {
    const u = await registerUser(t);
    const res = await t.http.post(`${BASE}/token-refresh`).set(fromFront).send({ refresh_token: u.refresh_token, refresh_token_in: 'cookie' });
    expectCookieLogin(await refreshAs(expectCookieLogin(res)));
  });
});

describe('refresh and logout from the cookie', () => {
  it('reuse of a rotated cookie revokes the login, as in bearer mode', async () => {
    const l = await newLogin();
    const next = expectCookieLogin(await refreshAs(l));
    expectError(await refreshAs(l), 401, 'refresh_token_reused');
    expectError(await refreshAs(next), 401, 'invalid_token');
    expect((await t.http.get('/me').set(bearer(next.token))).status).toBe(401);
  });

  it('logout clears the cookie and ends the login; the cookie replayed afterwards is refused', async () => {
    const l = await newLogin();
    const res = await logoutAs(l);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    const cleared = refreshCookies(res);
    expect(cleared.map((c) => c.attrs.path)).toEqual(['/']);
    for (const c of cleared) {
      expect(c.value).toBe('');
      expect(c.attrs['max-age']).toBe('0');
    }
    expect((await t.http.get('/me').set(bearer(l.token))).status).toBe(401);
    expectError(await refreshAs(l), 401, 'invalid_token');
    // Logging out an ended login is a no-op, as in bearer mode; it brings nothing back.
    expect((await logoutAs(l)).status).toBe(200);
    expectError(await refreshAs(l), 401, 'invalid_token');
  });

  it('a Referer from an allowed origin stands in for a missing Origin', async () => {
    const l = await newLogin();
    expectCookieLogin(await refreshAs(l, { Referer: `${FRONT}/app/page`, 'X-CSRF-Token': l.csrf }));
  });

  it('a body refresh_token wins over the cookie and needs no CSRF token (bearer mode)', async () => {
    const l = await newLogin();
    const u = await registerUser(t);
    const res = await withCookie('/token-refresh', l.cookie, {}).send({ refresh_token: u.refresh_token });
    expect(res.status).toBe(200);
    expect(typeof res.body.refresh_token).toBe('string');
    expect(res.body).not.toHaveProperty('csrf_token');
    expect(refreshCookies(res)).toEqual([]);
  });
});

describe('attacks from another origin are refused, and nothing is rotated or revoked', () => {
  const attacks: Array<[string, (l: CookieLogin, other: CookieLogin) => Record<string, string>]> = [
    ['a cross-origin Origin with the right token', (l) => ({ Origin: EVIL, 'X-CSRF-Token': l.csrf })],
    ['a cross-origin Origin without a token', () => ({ Origin: EVIL })],
    ['Origin: null (sandboxed page)', (l) => ({ Origin: 'null', 'X-CSRF-Token': l.csrf })],
    ['neither Origin nor Referer', (l) => ({ 'X-CSRF-Token': l.csrf })],
    ['a cross-origin Referer', (l) => ({ Referer: `${EVIL}/page`, 'X-CSRF-Token': l.csrf })],
    ['an allowed origin without the CSRF header', () => ({ Origin: FRONT })],
    ['an allowed origin with a wrong CSRF token', () => ({ Origin: FRONT, 'X-CSRF-Token': 'A'.repeat(43) })],
    ['an allowed origin with the CSRF token of another login', (_l, other) => ({ Origin: FRONT, 'X-CSRF-Token': other.csrf })],
    ['an origin that only starts like an allowed one', (l) => ({ Origin: `${FRONT}.evil.test`, 'X-CSRF-Token': l.csrf })],
  ];

  for (const [name, headers] of attacks) {
    it(`${name}: /token-refresh and /logout answer 403 csrf_failed`, async () => {
      const l = await newLogin();
      const other = await loginWithCookie(l.username);
      const before = await refreshRows(l.userId);
      const refreshed = await refreshAs(l, headers(l, other));
      expectError(refreshed, 403, 'csrf_failed');
      expect(refreshCookies(refreshed)).toEqual([]);
      const loggedOut = await logoutAs(l, headers(l, other));
      expectError(loggedOut, 403, 'csrf_failed');
      expect(refreshCookies(loggedOut)).toEqual([]);
      await expectUntouched(l, await Promise.resolve(before));
    });
  }

  it('a form POST (text/plain, urlencoded, multipart) from another origin changes nothing', async () => {
    const l = await newLogin();
    const before = await refreshRows(l.userId);
    for (const path of ['/token-refresh', '/logout']) {
      for (const [type, body] of [
        ['text/plain', 'refresh_token_in=cookie'],
        ['application/x-www-form-urlencoded', 'a=b'],
        ['multipart/form-data; boundary=x', '--x--\r\n'],
      ] as const) {
        const res = await withCookie(path, l.cookie, { Origin: EVIL, 'Content-Type': type }).send(body);
        expect([403, 415], `${path} ${type}: ${res.status}`).toContain(res.status);
        expect(refreshCookies(res)).toEqual([]);
      }
      // An empty form body passes the media-type check; the CSRF checks still refuse it.
      expectError(await withCookie(path, l.cookie, { Origin: EVIL, 'Content-Type': 'application/x-www-form-urlencoded' }).send(''), 403, 'csrf_failed');
    }
    await expectUntouched(l, before);
  });

  it('login CSRF: another origin cannot plant its own login in the victim’s cookie', async () => {
    const u = await registerUser(t);
    for (const headers of [{ Origin: EVIL }, {}, { Referer: `${EVIL}/x` }]) {
      const res = await t.http.post(`${BASE}/login`).set(headers).send({ username: u.username, password: PASSWORD, refresh_token_in: 'cookie' });
      expectError(res, 403, 'csrf_failed');
      expect(refreshCookies(res)).toEqual([]);
    }
    expectError(
      await t.http
        .post(`${BASE}/register`)
        .set({ Origin: EVIL })
        .send({ username: uniqueName('x'), password: PASSWORD, email: `${uniqueName('x')}@example.com`, refresh_token_in: 'cookie' }),
      403,
      'csrf_failed',
    );
  });

  it('a cookie that is not a refresh token of ours is refused without a change', async () => {
    const l = await newLogin();
    expectError(await refreshAs({ ...l, cookie: 'not.a.token' }), 401, 'invalid_token');
    expectError(await refreshAs({ ...l, cookie: l.token }), 401, 'invalid_token');
    expectError(await refreshAs({ ...l, cookie: 'garbage' }, { Origin: EVIL, 'X-CSRF-Token': l.csrf }), 403, 'csrf_failed');
  });
});

describe('a cookie-delivered login is used only as that cookie, and only one cookie of a name counts', () => {
  it('the cookie value sent as a body refresh_token (a host that received the cookie) opens nothing, and /logout refuses it too', async () => {
    const l = await newLogin();
    const before = await refreshRows(l.userId);
    for (const path of ['/token-refresh', '/logout']) {
      // The way issue #4's attacker redeemed it: no Origin, no CSRF token, the value in a JSON body.
      expectError(await t.http.post(`${BASE}${path}`).send({ refresh_token: l.cookie }), 401, 'invalid_token');
      expectError(await t.http.post(`${BASE}${path}`).set(fromFront).send({ refresh_token: l.cookie, refresh_token_in: 'cookie' }), 401, 'invalid_token');
    }
    await expectUntouched(l, before);
  });

  it('a sealed cookie moved under another name, or re-sealed under another key, is no login', async () => {
    const l = await newLogin();
    const other = await createTestApp({ publicUrl: PUBLIC_URL, cookies: { allowedOrigins: [FRONT] } });
    try {
      const res = await other.http
        .post(`${BASE}/token-refresh`)
        .set({ Cookie: `${COOKIE}=${l.cookie}`, ...fromFront, 'X-CSRF-Token': l.csrf })
        .send({});
      expectError(res, 401, 'invalid_token');
    } finally {
      await other.close();
    }
  });

  it('two refresh cookies of one name (a planted one shadowing ours) are refused with 400 duplicate_cookie, in either order', async () => {
    const l = await newLogin();
    const planted = await newLogin();
    const before = await refreshRows(l.userId);
    for (const pair of [
      [l.cookie, planted.cookie],
      [planted.cookie, l.cookie],
      [l.cookie, 'junk'],
      [l.cookie, l.cookie],
    ]) {
      const Cookie = pair.map((v) => `${COOKIE}=${v}`).join('; ');
      for (const path of ['/token-refresh', '/logout']) {
        const res = await t.http
          .post(`${BASE}${path}`)
          .set({ Cookie, ...fromFront, 'X-CSRF-Token': l.csrf })
          .send({});
        expectError(res, 400, 'duplicate_cookie');
        expect(refreshCookies(res)).toEqual([]);
      }
    }
    // A nameless cookie whose value reads `name=...` is one more of that name on the wire.
    expectError(
      await t.http
        .post(`${BASE}/token-refresh`)
        .set({ Cookie: `${COOKIE}=${l.cookie}; ${COOKIE}=${planted.cookie}`, ...fromFront, 'X-CSRF-Token': planted.csrf })
        .send({}),
      400,
      'duplicate_cookie',
    );
    await expectUntouched(l, before);
  });

  it('the cookie of an earlier version (a bare refresh token) is refused: its user signs in again', async () => {
    const u = await registerUser(t);
    const res = await t.http
      .post(`${BASE}/token-refresh`)
      .set({ Cookie: `${COOKIE}=${u.refresh_token}`, ...fromFront, 'X-CSRF-Token': 'A'.repeat(43) })
      .send({});
    expectError(res, 401, 'invalid_token');
  });
});

describe('bearer mode is unchanged with cookies on', () => {
  it('login, refresh and logout without the opt-in use the body, with no cookie, Origin or CSRF token', async () => {
    const u = await registerUser(t);
    const login = await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD });
    expect(login.status).toBe(200);
    expect(Object.keys(login.body as object).sort()).toEqual(['refresh_token', 'token', 'user']);
    expect(refreshCookies(login)).toEqual([]);
    const refreshed = await t.http.post(`${BASE}/token-refresh`).send({ refresh_token: login.body.refresh_token });
    expect(Object.keys(refreshed.body as object).sort()).toEqual(['refresh_token', 'token']);
    expect(refreshCookies(refreshed)).toEqual([]);
    expect((await t.http.post(`${BASE}/logout`).send({ refresh_token: refreshed.body.refresh_token })).status).toBe(200);
  });

  it('refresh_token_in must be body or cookie', async () => {
    const u = await registerUser(t);
    expectError(await t.http.post(`${BASE}/login`).send({ username: u.username, password: PASSWORD, refresh_token_in: 'header' }), 400, 'validation_error');
  });

  it('without the cookies option, asking for a cookie is 501 not_configured and a cookie is ignored', async () => {
    const plain = await createTestApp();
    try {
      const u = await registerUser(plain);
      expectError(
        await plain.http.post(`${BASE}/login`).set(fromFront).send({ username: u.username, password: PASSWORD, refresh_token_in: 'cookie' }),
        501,
        'not_configured',
      );
      const res = await plain.http
        .post(`${BASE}/token-refresh`)
        .set({ Cookie: `${COOKIE}=${u.refresh_token}`, ...fromFront })
        .send({});
      expectError(res, 400, 'validation_error');
    } finally {
      await plain.close();
    }
  });
});

describe('the cookies option', () => {
  const base = { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(48), logger: false as const };
  const misuse: Array<[Record<string, unknown>, RegExp]> = [
    [{ cookies: {} }, /`cookies\.allowedOrigins` is required when `publicUrl` is not set/],
    [{ cookies: { allowedOrigins: [] } }, /`cookies\.allowedOrigins`/],
    [{ cookies: { allowedOrigins: [`${FRONT}/app`] } }, /`cookies\.allowedOrigins` must be a non-empty array of origins/],
    [{ cookies: { allowedOrigins: ['*'] } }, /`cookies\.allowedOrigins`/],
    [{ cookies: { allowedOrigins: [FRONT], sameSite: 'None' } }, /`cookies\.sameSite`/],
    [{ cookies: { allowedOrigins: [FRONT], sameSite: 'none', secure: false } }, /`cookies\.sameSite` 'none' needs/],
    [{ cookies: { allowedOrigins: [FRONT], secure: 'yes' } }, /`cookies\.secure`/],
    [{ cookies: { allowedOrigins: [FRONT], name: '__Host-rt' } }, /`cookies\.name`/],
    [{ cookies: { allowedOrigins: [FRONT], name: 'a b' } }, /`cookies\.name`/],
    [{ cookies: { allowedOrigins: [FRONT], domain: 'https://x.test' } }, /`cookies\.domain`/],
    // Any Domain sends the refresh cookie to every host under it: refused, naming the risk.
    [{ cookies: { allowedOrigins: [FRONT], domain: 'example.com' } }, /`cookies\.domain` is refused: a Domain cookie is sent to every host/],
    [{ cookies: { allowedOrigins: [FRONT], path: '/' } }, /`cookies\.path` is not known/],
    [{ cookies: true }, /`cookies` must be an object/],
  ];
  for (const [options, message] of misuse) {
    it(`TypeError at construction: ${JSON.stringify(options)}`, async () => {
      const { AuthManager } = await import('../src/index.js');
      expect(() => new AuthManager(null, { ...base, ...options })).toThrow(TypeError);
      expect(() => new AuthManager(null, { ...base, ...options })).toThrow(message);
    });
  }

  it('allowedOrigins defaults to the origin of publicUrl', async () => {
    const app = await createTestApp({ publicUrl: 'https://shop.test/base', cookies: {} });
    try {
      const u = await registerUser(app);
      const body = { username: u.username, password: PASSWORD, refresh_token_in: 'cookie' };
      expect((await app.http.post(`${BASE}/login`).set({ Origin: 'https://shop.test' }).send(body)).status).toBe(200);
      expectError(await app.http.post(`${BASE}/login`).set(fromFront).send(body), 403, 'csrf_failed');
    } finally {
      await app.close();
    }
  });

  it('secure: false is allowed for development, with a warning; the cookie then has no Secure attribute', async () => {
    const warnings: unknown[][] = [];
    const dev = await createTestApp({
      cookies: { allowedOrigins: ['http://localhost:5173'], secure: false, sameSite: 'lax', name: 'rt' },
      logger: { info() {}, debug() {}, error() {}, warn: (...args: unknown[]) => warnings.push(args) },
    });
    try {
      expect(JSON.stringify(warnings)).toMatch(/cookies\.secure/);
      const u = await registerUser(dev);
      const res = await dev.http
        .post(`${BASE}/login`)
        .set({ Origin: 'http://localhost:5173' })
        .send({ username: u.username, password: PASSWORD, refresh_token_in: 'cookie' });
      expect(res.status).toBe(200);
      // Over plain http no `__Host-` prefix is possible: the bare name, Path=/, host-only (and the
      // two path-scoped cookies of earlier versions removed).
      const cookies = setCookies(res).filter((c) => c.startsWith('rt='));
      expect(cookies).toHaveLength(3);
      const live = cookies.filter((c) => !/Max-Age=0/.test(c));
      expect(live).toHaveLength(1);
      expect(live[0]).toMatch(/;\s*Path=\/(;|$)/);
      expect(
        cookies
          .filter((c) => /Max-Age=0/.test(c))
          .map((c) => /Path=([^;]+)/.exec(c)![1])
          .sort(),
      ).toEqual([`${BASE}/logout`, `${BASE}/token-refresh`]);
      for (const c of cookies) {
        expect(c).not.toMatch(/;\s*Secure/i);
        expect(c).toMatch(/;\s*SameSite=Lax/);
        expect(c).not.toMatch(/;\s*Domain=/i);
        expect(c).toMatch(/;\s*HttpOnly/);
      }
    } finally {
      await dev.close();
    }
  });
});
