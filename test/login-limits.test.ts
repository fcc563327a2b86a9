import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { AuthManager, type AuthManagerOptions } from '../src/index.js';
import * as OTPAuth from 'otpauth';
import { closedAfterEach, PASSWORD } from './helpers/app.js';
import { mailbox } from './helpers/mailbox.js';
import { databaseOptions, uniqueSchema } from './helpers/database.js';
import { BASE, uniqueName } from './helpers/endpoints.js';

// Failed logins are limited per (address, account) and per account with growing delays, and per
// address by the number of distinct accounts that failed there: an office behind one address keeps
// signing in while one member guesses, and a client spraying one password is still stopped.

const LOGIN = `${BASE}/login`;
const WRONG = 'definitely the wrong password';
const { app, track } = closedAfterEach();

type Http = ReturnType<typeof request>;

function login(http: Http, username: string, password: string, from?: string) {
  const req = http.post(LOGIN);
  if (from) req.set('X-Forwarded-For', from);
  return req.send({ username, password });
}

/** `count` accounts made through the programmatic API (no registration limit, cheap bcrypt). */
async function accounts(auth: AuthManager, count: number, prefix: string): Promise<string[]> {
  const names = Array.from({ length: count }, () => uniqueName(prefix));
  for (let i = 0; i < names.length; i += 20) {
    await Promise.all(names.slice(i, i + 20).map((username) => auth.users.create({ username, email: `${username}@example.com`, password: PASSWORD })));
  }
  return names;
}

function limitOf(res: request.Response): string | undefined {
  return /rate limit "(\w+)"/.exec(String(res.body?.error))?.[1];
}

describe('one address shared by many people', () => {
  it('200 users behind one address sign in while one of them keeps guessing another account', async () => {
    const t = await app({ rateLimit: {} });
    const people = await accounts(t.auth, 200, 'office');
    const [bob, ...others] = people as [string, ...string[]];
    const guesses: request.Response[] = [];
    for (const [i, username] of others.entries()) {
      // The guesser tries bob's account between every two colleagues' sign-ins.
      if (i % 2 === 0) guesses.push(await login(t.http, bob, `${WRONG} ${i}`));
      const res = await login(t.http, username, PASSWORD);
      expect(res.status, `${username}: ${JSON.stringify(res.body)}`).toBe(200);
    }
    // The guesser got the free tries, then only the account's delay: never anyone else's lockout.
    expect(guesses.slice(0, 5).map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
    const refused = guesses.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(80);
    expect(new Set(refused.map(limitOf))).toEqual(new Set(['account']));
    // Still held now. The delays run in real time: if the one in force ran out just before this
    // guess, the guess is let through (401) and starts a longer one, which holds the next.
    let limited = await login(t.http, bob, WRONG);
    if (limited.status === 401) limited = await login(t.http, bob, WRONG);
    expect([limited.status, limitOf(limited)]).toEqual([429, 'account']);
    // ...and a typo by a colleague is just a 401.
    expect((await login(t.http, others[0]!, WRONG)).status).toBe(401);
    expect((await login(t.http, others[0]!, PASSWORD)).status).toBe(200);
  }, 120_000);

  it('a client spraying one password across accounts is stopped after `login.limit` accounts; elsewhere nobody notices', async () => {
    const t = await app({ trustProxy: 1, rateLimit: { login: { limit: 30, windowSeconds: 900 } } });
    const targets = await accounts(t.auth, 40, 'spray');
    const sprayer = '203.0.113.66';
    const answers: number[] = [];
    for (const username of targets) answers.push((await login(t.http, username, 'Summer2026!', sprayer)).status);
    expect(answers.slice(0, 30)).toEqual(Array(30).fill(401));
    expect(answers.slice(30)).toEqual(Array(10).fill(429));
    const over = await login(t.http, targets[35]!, PASSWORD, sprayer);
    expect([over.status, limitOf(over)]).toEqual([429, 'login']);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(800);
    // The accounts themselves are not held against their owners elsewhere.
    for (const username of targets.slice(0, 5)) expect((await login(t.http, username, PASSWORD, '198.51.100.9')).status).toBe(200);
  }, 60_000);

  it('unknown names count as accounts too: spraying guessed usernames is stopped the same way', async () => {
    const t = await app({ rateLimit: { login: { limit: 5, windowSeconds: 900 } } });
    const answers: number[] = [];
    for (let i = 0; i < 8; i++) answers.push((await login(t.http, uniqueName('nobody'), WRONG)).status);
    expect(answers).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
  });
});

describe('growing delays', () => {
  it('answers refused by a limit do not count again: the next delay is the next step, not a longer one', async () => {
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const t = await app({ rateLimit: {}, now: () => new Date(clock) });
    const [victim] = await accounts(t.auth, 1, 'delay');
    for (let i = 0; i < 5; i++) expect((await login(t.http, victim!, WRONG)).status).toBe(401);
    // Now one second per failure, doubling. Twenty refused attempts change nothing.
    for (let i = 0; i < 20; i++) {
      const res = await login(t.http, victim!, WRONG);
      expect([res.status, limitOf(res)]).toEqual([429, 'account']);
      expect(res.headers['retry-after']).toBe('1');
    }
    clock += 1_000;
    expect((await login(t.http, victim!, WRONG)).status).toBe(401);
    expect((await login(t.http, victim!, WRONG)).headers['retry-after']).toBe('2');
    clock += 2_000;
    expect((await login(t.http, victim!, WRONG)).status).toBe(401);
    expect((await login(t.http, victim!, WRONG)).headers['retry-after']).toBe('4');
    // The right password, once allowed, clears this address's delay.
    clock += 4_000;
    expect((await login(t.http, victim!, PASSWORD)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await login(t.http, victim!, WRONG)).status).toBe(401);
  });

  it('concurrent guesses at one account: exactly the free ones are checked, however many arrive at once', async () => {
    // A still clock: the first delay is one second, which sixteen guesses on a loaded machine can outlast.
    const still = new Date();
    const t = await app({ rateLimit: {}, now: () => still });
    const [victim] = await accounts(t.auth, 1, 'burst');
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => login(t.http, victim!, `${WRONG} ${i}`)));
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(5).fill(401), ...Array(11).fill(429)]);
  });

  it('a guesser spread over many addresses meets the account-wide delay, which never exceeds a minute', async () => {
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const t = await app({ trustProxy: 1, rateLimit: {}, now: () => new Date(clock) });
    const [victim] = await accounts(t.auth, 1, 'spread');
    const from = (i: number) => `198.18.${Math.floor(i / 200)}.${(i % 200) + 1}`;
    for (let i = 0; i < 20; i++) expect((await login(t.http, victim!, WRONG, from(i))).status, `address ${i}`).toBe(401);
    const next = await login(t.http, victim!, WRONG, from(20));
    expect([next.status, limitOf(next)]).toEqual([429, 'account']);
    // Keep failing from fresh addresses as fast as allowed: the wait grows, then stops at 60 s.
    const waits: number[] = [];
    for (let i = 21; i < 40; i++) {
      const res = await login(t.http, victim!, WRONG, from(i));
      if (res.status === 429) {
        waits.push(Number(res.headers['retry-after']));
        clock += Number(res.headers['retry-after']) * 1000;
      }
    }
    expect(Math.max(...waits)).toBe(60);
    // The owner, at home, waits at most that minute; then signs in, and the delay starts over lower.
    clock += 60_000;
    expect((await login(t.http, victim!, PASSWORD, '192.0.2.1')).status).toBe(200);
  });

  it('failures a day old are forgotten', async () => {
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const t = await app({ rateLimit: {}, now: () => new Date(clock) });
    const [victim] = await accounts(t.auth, 1, 'old');
    for (let i = 0; i < 5; i++) expect((await login(t.http, victim!, WRONG)).status).toBe(401);
    expect((await login(t.http, victim!, WRONG)).status).toBe(429);
    clock += 24 * 3600 * 1000 + 1000;
    for (let i = 0; i < 5; i++) expect((await login(t.http, victim!, WRONG)).status).toBe(401);
    expect((await login(t.http, victim!, WRONG)).status).toBe(429);
  });

  it("every check of an account's password shares the login delays: a stolen token is no way around them, and the owner at home is not held back", async () => {
    const clock = Date.parse('2030-01-01T00:00:00Z');
    const box = mailbox();
    const t = await app({ trustProxy: 1, rateLimit: {}, mailer: box.mailer, now: () => new Date(clock) });
    const [alice] = await accounts(t.auth, 1, 'stolen');
    const home = '192.0.2.10';
    const token = (await login(t.http, alice!, PASSWORD, home)).body.token as string;
    const thief = (i: number) => `203.0.113.${i + 1}`;
    const change = (from: string, current: string) =>
      t.http
        .post(`${BASE}/change-password`)
        .set('X-Forwarded-For', from)
        .set('Authorization', `Bearer ${token}`)
        .send({ current_password: current, password: `${PASSWORD} 2` });
    // From one address: five free guesses, then the same delay a login guesser meets, shared with /login.
    for (let i = 0; i < 5; i++) expect((await change(thief(0), `${WRONG} ${i}`)).status).toBe(401);
    const delayed = await change(thief(0), WRONG);
    expect([delayed.status, limitOf(delayed)]).toEqual([429, 'account']);
    expect((await login(t.http, alice!, WRONG, thief(0))).status).toBe(429);
    // The confirmation of an email change he asked for with the token checks the password the same way.
    expect((await t.http.post(`${BASE}/request-email-change`).set('Authorization', `Bearer ${token}`).send({ new_email: 'thief@evil.example' })).status).toBe(
      202,
    );
    const link = (await box.next('email_change', 'thief@evil.example')).token!;
    const confirm = (from: string, password: string) =>
      t.http.post(`${BASE}/confirm-email-change`).set('X-Forwarded-For', from).send({ token: link, password });
    expect([(await confirm(thief(0), WRONG)).status]).toEqual([429]);
    // Spread over addresses, he meets the account-wide delay after 20 guesses in all.
    const answers: number[] = [];
    for (let i = 1; i <= 20; i++) answers.push((await confirm(thief(i), `${WRONG} ${i}`)).status);
    expect(answers.filter((s) => s === 401)).toHaveLength(15);
    expect(answers.slice(-1)).toEqual([429]);
    // Alice, from home where her password was right before, is not held back by it.
    const own = await change(home, PASSWORD);
    expect(own.status, JSON.stringify(own.body)).toBe(200);
  });

  it('a delay tells nothing about which email address belongs to which username', async () => {
    const still = new Date();
    const t = await app({ rateLimit: {}, now: () => still });
    const [bob] = await accounts(t.auth, 1, 'enum');
    for (let i = 0; i < 5; i++) expect((await login(t.http, bob!, WRONG)).status).toBe(401);
    expect((await login(t.http, bob!, WRONG)).status).toBe(429);
    // His real address and a made-up one answer alike.
    expect((await login(t.http, `${bob}@example.com`, WRONG)).status).toBe(401);
    expect((await login(t.http, `${bob}@elsewhere.example`, WRONG)).status).toBe(401);
  });

  it('a guesser who keeps the account-wide delay armed cannot keep the owner out of an address she signed in from', async () => {
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const t = await app({ trustProxy: 1, rateLimit: {}, now: () => new Date(clock) });
    const [victim] = await accounts(t.auth, 1, 'armed');
    expect((await login(t.http, victim!, PASSWORD, '192.0.2.20')).status).toBe(200);
    let n = 0;
    const guess = () => login(t.http, victim!, `${WRONG} ${n}`, `198.18.1.${(n += 1)}`);
    for (let i = 0; i < 20; i++) expect((await guess()).status).toBe(401);
    const owner: number[] = [];
    for (let round = 0; round < 10; round++) {
      // The guesser re-arms the delay the moment it ends; the owner tries in between.
      const res = await guess();
      if (res.status === 429) clock += Number(res.headers['retry-after']) * 1000;
      else clock += 500;
      owner.push((await login(t.http, victim!, PASSWORD, '192.0.2.20')).status);
      expect((await login(t.http, victim!, PASSWORD, '192.0.2.99')).status).toBe(429);
    }
    expect(owner).toEqual(Array(10).fill(200));
  });

  it('a wrong password given as the second factor counts as a wrong second factor: the fifth ends the mfa_id', async () => {
    const box = mailbox();
    const t = await app({ rateLimit: false, mailer: box.mailer });
    const carol = uniqueName('second');
    const email = `${carol}@example.com`;
    await t.auth.users.create({ username: carol, email, password: PASSWORD, email_verified: true });
    const signedIn = (await login(t.http, carol, PASSWORD)).body.token as string;
    const setup = await t.http.post(`${BASE}/mfa/totp/setup`).set('Authorization', `Bearer ${signedIn}`).send({ password: PASSWORD });
    const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.body.secret), digits: 6, period: 30 }).generate();
    expect((await t.http.post(`${BASE}/mfa/totp/confirm`).set('Authorization', `Bearer ${signedIn}`).send({ code })).status).toBe(200);
    // First factor: an emailed code; the password is to be the second.
    const otpId = (await t.http.post(`${BASE}/request-otp`).send({ email })).body.otp_id as string;
    const mail = await box.next('otp', email);
    const first = await t.http.post(`${BASE}/login/otp`).send({ otp_id: otpId, code: mail.code });
    expect(first.body.code).toBe('mfa_required');
    const mfaId = first.body.mfa_id as string;
    for (let i = 0; i < 5; i++) expect((await t.http.post(LOGIN).send({ username: carol, password: `${WRONG} ${i}`, mfa_id: mfaId })).status).toBe(401);
    const late = await t.http.post(LOGIN).send({ username: carol, password: PASSWORD, mfa_id: mfaId });
    expect(late.status).toBe(401);
    expect(late.body.token).toBeUndefined();
  });

  it('an X-Forwarded-For entry with a port is the same client as without it', async () => {
    const still = new Date();
    const t = await app({ trustProxy: 1, rateLimit: {}, now: () => still });
    const [victim] = await accounts(t.auth, 1, 'port');
    const answers: number[] = [];
    for (let i = 0; i < 8; i++) answers.push((await login(t.http, victim!, WRONG, i % 2 ? `203.0.113.7:${40000 + i}` : '203.0.113.7')).status);
    expect(answers).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const v6: number[] = [];
    for (let i = 0; i < 6; i++) v6.push((await login(t.http, victim!, WRONG, `[2001:db8::${i % 2 ? 'A' : 'a'}]:${443 + i}`)).status);
    expect(v6).toEqual([401, 401, 401, 401, 401, 429]);
  });
});

describe('trust proxy set to trust every hop', () => {
  const base = async (logger: { warn: (o: object, m?: string) => void }, options: Partial<AuthManagerOptions>, host = express()) => {
    const auth = new AuthManager(host, {
      ...(await databaseOptions()),
      dbSchema: uniqueSchema(),
      jwtSecret: 'p'.repeat(32),
      bcryptRounds: 4,
      logger: { info() {}, debug() {}, error() {}, warn: logger.warn },
      ...options,
    });
    track(() => auth.close());
    return { auth, host };
  };

  it("the app's `trust proxy` true gets one warning at start-up naming the safer settings; a hop count gets none", async () => {
    const warnings: string[] = [];
    const logger = { warn: (_o: object, m?: string) => warnings.push(m ?? '') };
    const host = express();
    host.set('trust proxy', true);
    const { auth } = await base(logger, {}, host);
    await auth.ready;
    expect(warnings).toEqual([expect.stringMatching(/'trust proxy' trusts every X-Forwarded-For hop.*number of hops.*'loopback'/)]);
    await request(host).post(LOGIN).set('X-Forwarded-For', '203.0.113.1').send({ username: 'x', password: WRONG });
    expect(warnings).toHaveLength(1);

    const quiet: string[] = [];
    const other = express();
    other.set('trust proxy', 1);
    const second = await base({ warn: (_o, m) => quiet.push(m ?? '') }, {}, other);
    await second.auth.ready;
    await request(other).post(LOGIN).set('X-Forwarded-For', '203.0.113.1').send({ username: 'x', password: WRONG });
    expect(quiet).toEqual([]);
  });

  it.each<[string, unknown]>([
    ['every IPv4 address in two halves', '0.0.0.0/1,128.0.0.0/1'],
    ['a function that trusts anyone', () => true],
    ['99 hops', 99],
  ])('%s counts as trusting everyone', async (_name, setting) => {
    const warnings: string[] = [];
    const host = express();
    host.set('trust proxy', setting);
    const { auth } = await base({ warn: (_o, m) => warnings.push(m ?? '') }, {}, host);
    await auth.ready;
    expect(warnings).toEqual([expect.stringMatching(/'trust proxy' trusts every/)]);
  });

  it("a trustProxy the library cannot read is a TypeError naming the option, not proxy-addr's", async () => {
    expect(() => new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'p'.repeat(32), trustProxy: 'true' })).toThrow(/option `trustProxy` must be/);
  });

  it('the option trustProxy: true warns too, and a setting made after start-up is caught at the first request', async () => {
    const warnings: string[] = [];
    const { auth } = await base({ warn: (_o, m) => warnings.push(m ?? '') }, { trustProxy: true });
    expect(warnings).toEqual([expect.stringMatching(/'trust proxy' trusts every/)]);
    await auth.ready;

    const later: string[] = [];
    const host = express();
    const { auth: second } = await base({ warn: (_o, m) => later.push(m ?? '') }, {}, host);
    await second.ready;
    expect(later).toEqual([]);
    host.set('trust proxy', true);
    await request(host).post(LOGIN).send({ username: 'x', password: WRONG });
    await request(host).post(LOGIN).send({ username: 'y', password: WRONG });
    expect(later).toEqual([expect.stringMatching(/'trust proxy' trusts every/)]);
  });
});
