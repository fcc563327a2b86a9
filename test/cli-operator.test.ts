import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import express from 'express';
import * as OTPAuth from 'otpauth';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { cliRunner } from './helpers/cli-runner.js';
import { TEST_DSN, dropSchema, rawQuery } from './helpers/database.js';

// The operator commands as an operator runs them (issue 22): the built bin against a real
// database, then the app over HTTP to show the effect. A throttled login, a second factor locked
// out, an address over its limit: each is cleared by `user unlock` / `limits reset` and the next
// login succeeds, while the limits of everyone else stay. On PGlite the app and the CLI take
// turns on one on-disk database (one writer at a time).

const { dir, schema, pgliteDir, ok, fails } = cliRunner('clio');
const PASSWORD = 'operator passphrase 1';

/** The app's clock: still, so a delay or a window never runs out on its own while the test works. */
let clock = Date.now();

type Http = ReturnType<typeof request>;

/** The app over HTTP: trusts X-Forwarded-For (so each test address is its own client), requires verified addresses. */
async function withApp<T>(work: (http: Http) => Promise<T>): Promise<T> {
  const auth = new AuthManager(null, {
    dbDsn: TEST_DSN ?? `pglite://${pgliteDir}`,
    dbSchema: schema,
    jwtSecret: 'o'.repeat(32),
    bcryptRounds: 4,
    trustProxy: true,
    requireEmailVerification: true,
    rateLimit: { login: { limit: 8, windowSeconds: 900 } },
    logger: false,
    now: () => new Date(clock),
  });
  try {
    await auth.ready;
    return await work(request(express().use('/api/v1/users', auth.router)));
  } finally {
    await auth.close();
  }
}

const login = (http: Http, from: string, username: string, password = PASSWORD) =>
  http.post('/api/v1/users/login').set('X-Forwarded-For', from).send({ username, password });

/** Wrong passwords for `username` from `from`, each answered 401. */
async function fail(http: Http, from: string, username: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) expect((await login(http, from, username, 'not the password')).status).toBe(401);
}

/** Fills an address's `login` limit (8) with wrong passwords for names nobody has; the next login from it is refused. */
async function exhaust(http: Http, from: string): Promise<void> {
  for (let i = 0; i < 8; i++) expect((await login(http, from, `nobody${i}`, 'not the password')).status).toBe(401);
}

const totp = (secret: string) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: clock });

/** Runs SQL on the test database (on PGlite, by opening the on-disk database while nothing else has it open). */
async function query<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  if (TEST_DSN) return rawQuery<T>(text, params);
  const pglite = new PGlite(pgliteDir, { extensions: { pg_trgm } });
  try {
    return (await pglite.query<T>(text, params)).rows;
  } finally {
    await pglite.close();
  }
}

const ids: Record<string, string> = {};

beforeAll(() => {
  ok(['db', 'init']);
  for (const name of ['bob', 'carol', 'erin']) {
    const out = ok(['user', 'create', '--username', name, '--email', `${name}@example.com`, '--password-stdin', '--email-verified'], `${PASSWORD}\n`);
    expect(out).toMatch(/; email verified$/m);
  }
  expect(ok(['user', 'create', '--username', 'dave', '--email', 'dave@example.com', '--password-stdin'], `${PASSWORD}\n`)).not.toMatch(/verified/);
  for (const u of JSON.parse(ok(['user', 'list', '--json'])).users as Array<{ id: string; username: string }>) ids[u.username] = u.id;
}, 300_000);

afterAll(async () => {
  if (TEST_DSN) await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

// What is under test is the command, not the database: once, on the PostgreSQL run (CI runs the
// suite on both), where each command costs a third of what opening the embedded database does.
// The commands on an embedded database: test/cli.test.ts and test/passkey-cli.test.ts.
describe.runIf(TEST_DSN)('authlib user unlock, limits reset, user verify and create --email-verified', { timeout: 600_000 }, () => {
  it('usage errors exit 2 before touching the database; an unknown user exits 1 with one line', () => {
    expect(fails(['limits', 'reset'], 2)).toBe('authlib: say which limits to clear: --ip ADDRESS and/or --user USER, or --all for every one');
    expect(fails(['limits', 'reset', '--all', '--ip', '192.0.2.1'], 2)).toBe('authlib: --all clears every limit: give it alone, without --ip or --user');
    expect(fails(['limits', 'reset', '--ip', '192.0.2.300'], 2)).toMatch(/--ip .* must be an IPv4 or IPv6 address$/);
    expect(fails(['user', 'unlock'], 2)).toMatch(/missing required argument 'user'/);
    expect(fails(['user', 'verify'], 2)).toMatch(/missing required argument 'user'/);
    expect(fails(['user', 'unlock', 'nobody'], 1)).toBe("authlib: no user with username or email 'nobody'");
    expect(fails(['user', 'verify', 'nobody@example.com'], 1)).toBe("authlib: no user with username or email 'nobody@example.com'");
    expect(fails(['limits', 'reset', '--user', 'nobody'], 1)).toBe("authlib: no user with username or email 'nobody'");
  });

  it('after user unlock, limits reset --ip and user verify, logins that were refused succeed; other limits stay', async () => {
    let secret = '';
    // Before: bob is held back at 198.51.100.1 (per account and address), erin's second factor is
    // locked out, 198.51.100.2 and 198.51.100.3 are over the address limit, dave is unverified.
    await withApp(async (http) => {
      await fail(http, '198.51.100.1', 'bob', 5);
      expect((await login(http, '198.51.100.1', 'bob')).status).toBe(429);

      const signedIn = await login(http, '198.51.100.5', 'erin');
      expect(signedIn.status).toBe(200);
      const bearer = { authorization: `Bearer ${signedIn.body.token}` };
      secret = (await http.post('/api/v1/users/mfa/totp/setup').set(bearer).send({ password: PASSWORD })).body.secret;
      expect(
        (
          await http
            .post('/api/v1/users/mfa/totp/confirm')
            .set(bearer)
            .send({ code: totp(secret) })
        ).status,
      ).toBe(200);
      clock += 30_000; // a new time step, so a new code
      const mfaId = async () => (await login(http, '198.51.100.5', 'erin')).body.mfa_id as string;
      const first = await mfaId();
      for (let i = 0; i < 5; i++)
        expect(
          (await http.post('/api/v1/users/login/mfa').set('X-Forwarded-For', '198.51.100.5').send({ mfa_id: first, method: 'totp', code: '000000' })).status,
        ).toBe(400);
      const locked = await http
        .post('/api/v1/users/login/mfa')
        .set('X-Forwarded-For', '198.51.100.5')
        .send({ mfa_id: await mfaId(), method: 'totp', code: totp(secret) });
      expect(locked.status, JSON.stringify(locked.body)).toBe(429);

      await exhaust(http, '198.51.100.2');
      await exhaust(http, '198.51.100.3');
      expect((await login(http, '198.51.100.2', 'carol')).status).toBe(429);
      expect((await login(http, '198.51.100.3', 'carol')).status).toBe(429);

      expect((await login(http, '198.51.100.4', 'dave')).body.code).toBe('email_not_verified');
    });

    expect(ok(['user', 'unlock', 'bob'])).toMatch(new RegExp(`^unlocked bob \\(${ids.bob}\\): \\d+ failed-login delay\\(s\\)`, 'm'));
    expect(ok(['user', 'unlock', 'ERIN@example.com'])).toMatch(/^unlocked erin \(.*\): 1 second-factor count\(s\)$/m);
    expect(ok(['limits', 'reset', '--ip', '198.51.100.2'])).toMatch(
      /^reset the limits of 198\.51\.100\.2: \d+ failed-login delay\(s\), \d+ rate-limit counter\(s\)$/m,
    );
    expect(ok(['user', 'verify', 'dave', '--keep-credentials'])).toBe(`verified dave@example.com of dave (${ids.dave})\n`);

    await withApp(async (http) => {
      expect((await login(http, '198.51.100.1', 'bob')).status).toBe(200);
      const mfa = await login(http, '198.51.100.5', 'erin');
      expect(mfa.body.code).toBe('mfa_required');
      const second = await http
        .post('/api/v1/users/login/mfa')
        .set('X-Forwarded-For', '198.51.100.5')
        .send({ mfa_id: mfa.body.mfa_id, method: 'totp', code: totp(secret) });
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      expect((await login(http, '198.51.100.2', 'carol')).status).toBe(200);
      expect((await login(http, '198.51.100.3', 'carol')).status).toBe(429); // not the address that was reset
      expect((await login(http, '198.51.100.4', 'dave')).status).toBe(200);
    });
    const [dave] = await query<{ email_verified: boolean; owner_proven: boolean }>(`SELECT email_verified, owner_proven FROM "${schema}".users WHERE id = $1`, [
      ids.dave,
    ]);
    expect(dave).toEqual({ email_verified: true, owner_proven: true });

    // By type: the app's events carry its still clock, the CLI's the real time.
    const events = (type: string) => JSON.parse(ok(['events', '--type', type, '--json'])) as Array<{ username: string | null; data: Record<string, unknown> }>;
    expect(events('user_unlocked').map((e) => e.username)).toEqual(['erin', 'bob']);
    const [reset] = events('rate_limits_reset');
    expect(reset).toMatchObject({ username: null, data: { ip: '198.51.100.2', cleared: { second_factor_failures: 0 } } });
    expect((reset!.data.cleared as { rate_limits: number }).rate_limits).toBeGreaterThan(0);
    expect(events('email_verified')).toEqual([
      expect.objectContaining({ username: 'dave', data: { owner_proven: true, by: 'administrator', kept_credentials: ['password'] } }),
    ]);
  });

  it('limits reset --user clears the account from every address, --all clears everything', async () => {
    await withApp(async (http) => {
      await fail(http, '198.51.100.6', 'bob', 5);
      expect((await login(http, '198.51.100.6', 'bob')).status).toBe(429);
      await exhaust(http, '198.51.100.7');
    });
    expect(ok(['limits', 'reset', '--user', 'bob@example.com'])).toMatch(
      new RegExp(`^reset the limits of bob \\(${ids.bob}\\): \\d+ failed-login delay\\(s\\)`, 'm'),
    );
    await withApp(async (http) => {
      expect((await login(http, '198.51.100.6', 'bob')).status).toBe(200);
      expect((await login(http, '198.51.100.7', 'carol')).status).toBe(429);
      expect((await login(http, '198.51.100.3', 'carol')).status).toBe(429);
    });
    expect(ok(['limits', 'reset', '--all'])).toMatch(/^reset the limits of every address and account: .*rate-limit counter\(s\)$/m);
    expect(await query(`SELECT key FROM "${schema}".rate_limits UNION ALL SELECT key FROM "${schema}".login_failures`)).toEqual([]);
    await withApp(async (http) => {
      expect((await login(http, '198.51.100.7', 'carol')).status).toBe(200);
      expect((await login(http, '198.51.100.3', 'carol')).status).toBe(200);
    });
  });

  it('finds the counters of an address or an account whatever the key combines them with, and nothing else', async () => {
    const bob = ids.bob!;
    const other = ids.carol!;
    const hash = (s: string) => createHash('sha256').update(s).digest('hex');
    const rateLimits = [
      `login:198.51.100.23`,
      `login:198.51.100.23|u:${bob}`, // per (address, account)
      `login:password|a:198.51.100.23`,
      `code:a:2001:db8:abcd:1200::/56`,
      `login:2001:db8:abcd:1200::/56|u:${other}`,
      `code:u:${bob}`,
      `login:password|u:${bob}`,
      `loginAccount:${bob}`, // a layout no limiter uses yet
      `login:198.51.100.230`,
      `login:2001:db8:abcd:1300::/56`,
      `mailTarget:${hash('bob@example.com')}`,
      `mailTarget:${hash('carol@example.com')}`,
      `invitation:${other}`,
      `code:u:${other}`,
    ];
    const loginFailures = [
      `u:${bob}|2001:db8:abcd:12ff::7`,
      `u:${bob}|2001:db8:abcd:12ff::70`,
      `u:${bob}`,
      `n:bob|203.0.113.9`,
      `n:bobby|203.0.113.9`,
      `u:${other}|198.51.100.23`,
      `u:${other}`,
    ];
    const seed = rateLimits.map((_, i) => `($${i + 1}, 1, now() + interval '1 hour')`).join(', ');
    await query(`INSERT INTO "${schema}".rate_limits (key, hits, reset_at) VALUES ${seed} ON CONFLICT (key) DO UPDATE SET hits = 1`, rateLimits);
    const seedFailures = loginFailures.map((_, i) => `($${i + 1}, 5, now())`).join(', ');
    await query(
      `INSERT INTO "${schema}".login_failures (key, failures, last_failure_at) VALUES ${seedFailures} ON CONFLICT (key) DO UPDATE SET failures = 5`,
      loginFailures,
    );
    // Only the keys seeded here (some were left at 0 by earlier tests' logins, hence the upserts).
    const keys = async () =>
      (await query<{ key: string }>(`SELECT key FROM "${schema}".rate_limits UNION ALL SELECT key FROM "${schema}".login_failures`))
        .map((r) => r.key)
        .filter((key) => rateLimits.includes(key) || loginFailures.includes(key))
        .sort();

    ok(['limits', 'reset', '--ip', '198.51.100.23']);
    ok(['limits', 'reset', '--ip', '2001:DB8:abcd:12ff:0:0:0:7']);
    expect(await keys()).toEqual(
      [
        `code:u:${bob}`,
        `login:password|u:${bob}`,
        `loginAccount:${bob}`,
        `login:198.51.100.230`,
        `login:2001:db8:abcd:1300::/56`,
        `mailTarget:${hash('bob@example.com')}`,
        `mailTarget:${hash('carol@example.com')}`,
        `invitation:${other}`,
        `code:u:${other}`,
        `u:${bob}|2001:db8:abcd:12ff::70`,
        `u:${bob}`,
        `n:bob|203.0.113.9`,
        `n:bobby|203.0.113.9`,
        `u:${other}`,
      ].sort(),
    );
    ok(['limits', 'reset', '--user', bob]);
    expect(await keys()).toEqual(
      [
        `login:198.51.100.230`,
        `login:2001:db8:abcd:1300::/56`,
        `mailTarget:${hash('carol@example.com')}`,
        `invitation:${other}`,
        `code:u:${other}`,
        `n:bobby|203.0.113.9`,
        `u:${other}`,
      ].sort(),
    );
  });
});
