import connect from 'connect';
import type express from 'express';
// express4 is an npm alias of express@4 without type declarations of its own.
// @ts-expect-error -- no declaration file for the alias
import express4Untyped from 'express4';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  OAuthError,
  RateLimitError,
  RequestError,
  ValidationError,
  type Logger,
} from '../src/index.js';
import { createTestApp, PASSWORD, type TestApp } from './helpers/app.js';

const express4 = express4Untyped as unknown as typeof express;

/** Constructors as plain JavaScript calls them: no compiler checks the arguments. */
type Loose = new (...args: unknown[]) => Error & { code: unknown; status: unknown; message: string };
const loose = (ctor: unknown) => ctor as Loose;

const logged: Array<{ obj: object; msg?: string | undefined }> = [];
const logger: Logger = {
  info() {},
  debug() {},
  warn: (obj, msg) => logged.push({ obj, msg }),
  error: (obj, msg) => logged.push({ obj, msg }),
};

let t: TestApp;
let token: string;

beforeAll(async () => {
  t = await createTestApp({ logger });
  const app = t.app;
  app.get('/notes/:id', t.auth.requireAuth(), (req) => {
    if (req.params.id !== req.auth!.user.id) throw new ForbiddenError('not your note');
  });
  app.get('/async-forbidden', async () => {
    await Promise.resolve();
    throw new ForbiddenError('not your note');
  });
  app.get('/expired', () => {
    throw new AuthenticationError('token_expired', 'the token has expired');
  });
  app.get('/limited', (_req, _res, next) => next(new RateLimitError(42, 'login')));
  app.get('/validation', () => {
    throw new ValidationError({ title: 'is required' });
  });
  app.get('/crash', () => {
    throw new Error('connect ECONNREFUSED postgres://app:hunter2@db/app');
  });
  app.use(t.auth.errorHandler());
  await t.auth.users.create({ username: 'alice', password: PASSWORD });
  const login = await t.http.post('/api/v1/users/login').send({ username: 'alice', password: PASSWORD }).expect(200);
  token = login.body.token as string;
});

afterAll(() => t.close());

describe('auth.errorHandler() on Express 5', () => {
  it("renders an app route's ForbiddenError in the library's format", async () => {
    const res = await t.http.get('/notes/someone-else').set('Authorization', `Bearer ${token}`).expect(403);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: 'not your note', code: 'forbidden', status_code: 403 });
  });

  it('is the same body the library answers for its own 403 and 401', async () => {
    const own = await t.http.get('/admin').set('Authorization', `Bearer ${token}`).expect(403);
    expect(Object.keys(own.body).sort()).toEqual(['code', 'error', 'status_code']);
    const unsigned = await t.http.get('/notes/x').expect(401);
    expect(unsigned.body.code).toBe('unauthorized');
  });

  it('catches a rejected async handler', async () => {
    const res = await t.http.get('/async-forbidden').expect(403);
    expect(res.body).toEqual({ error: 'not your note', code: 'forbidden', status_code: 403 });
  });

  it('sets the headers the library sets: WWW-Authenticate on 401, Retry-After on 429, fields on 400', async () => {
    const expired = await t.http.get('/expired').expect(401);
    expect(expired.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(expired.body).toEqual({ error: 'the token has expired', code: 'token_expired', status_code: 401 });
    const limited = await t.http.get('/limited').expect(429);
    expect(limited.headers['retry-after']).toBe('42');
    expect(limited.body.code).toBe('rate_limited');
    const invalid = await t.http.get('/validation').expect(400);
    expect(invalid.body).toEqual({ error: 'request body is invalid', code: 'validation_error', status_code: 400, fields: { title: 'is required' } });
  });

  it('answers any other error as a bare 500 internal_error and logs it without the query string', async () => {
    logged.length = 0;
    const res = await t.http.get('/crash?token=secret-in-query').expect(500);
    expect(res.body).toEqual({ error: 'internal error', code: 'internal_error', status_code: 500 });
    expect(res.text).not.toContain('hunter2');
    expect(logged).toHaveLength(1);
    const line = JSON.stringify(logged[0]);
    expect(line).toContain('ECONNREFUSED');
    expect(line).toContain('/crash');
    expect(line).not.toContain('secret-in-query');
    expect(line).not.toContain('    at '); // no stack
  });

  it('is a named four-parameter function, and its options are checked', () => {
    const handler = t.auth.errorHandler();
    expect(handler.length).toBe(4);
    expect(handler.name).toBe('authErrorHandler');
    expect(() => t.auth.errorHandler({ others: 'nxt' } as never)).toThrow(/'internal_error' or 'next'/);
    expect(() => t.auth.errorHandler({ other: 'next' } as never)).toThrow(/no option "other"/);
    // Mounted without calling it, it is called as a plain middleware: that is a clear TypeError, not a hang.
    expect(() => (t.auth.errorHandler as unknown as (...a: unknown[]) => unknown)({ headers: {} }, {}, () => {})).toThrow(/factory/);
  });
});

describe("auth.errorHandler({ others: 'next' }), on Express 4 and in Connect", () => {
  it('Express 4: renders an AuthError and hands other errors on', async () => {
    const app = express4();
    app.get('/gone', (_req, _res, next) => next(new NotFoundError('no such note')));
    app.get('/crash', () => {
      throw new Error('boom');
    });
    app.use(t.auth.errorHandler({ others: 'next' }));
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(599).json({ mine: err.message });
    });
    const gone = await request(app).get('/gone').expect(404);
    expect(gone.body).toEqual({ error: 'no such note', code: 'not_found', status_code: 404 });
    const crash = await request(app).get('/crash').expect(599);
    expect(crash.body).toEqual({ mine: 'boom' });
  });

  it('Connect: renders an AuthError', async () => {
    const app = connect();
    app.use('/taken', (_req: unknown, _res: unknown, next: (err?: unknown) => void) => next(new ConflictError('that title is taken')));
    app.use(t.auth.errorHandler());
    const res = await request(app).get('/taken').expect(409);
    expect(res.body).toEqual({ error: 'that title is taken', code: 'conflict', status_code: 409 });
  });
});

describe('error constructors called from JavaScript', () => {
  it('a lone string is the message, with the family default code and its status', () => {
    const forbidden = new (loose(ForbiddenError))('not your note');
    expect([forbidden.code, forbidden.status, forbidden.message]).toEqual(['forbidden', 403, 'not your note']);
    const unauthenticated = new (loose(AuthenticationError))('sign in first');
    expect([unauthenticated.code, unauthenticated.status, unauthenticated.message]).toEqual(['unauthorized', 401, 'sign in first']);
    const oauth = new (loose(OAuthError))('the provider said no');
    expect([oauth.code, oauth.status]).toEqual(['oauth_failed', 400]);
    const bare = new (loose(ForbiddenError))();
    expect([bare.code, bare.status]).toEqual(['forbidden', 403]);
  });

  it('a code of the family is the code; the message defaults', () => {
    const e = new (loose(ForbiddenError))('account_disabled');
    expect([e.code, e.status]).toEqual(['account_disabled', 403]);
    expect(e.message).toBeTypeOf('string');
    const typed = new ForbiddenError('email_not_verified', 'verify first');
    expect([typed.code, typed.status, typed.message]).toEqual(['email_not_verified', 403, 'verify first']);
  });

  it('an unknown or foreign code, a non-string message, or swapped arguments are TypeErrors', () => {
    expect(() => new (loose(ForbiddenError))('nope', 'not your note')).toThrow(TypeError);
    expect(() => new (loose(ForbiddenError))('not_found', 'wrong family')).toThrow(/forbidden, account_disabled/);
    expect(() => new (loose(AuthenticationError))('unauthorized', 42)).toThrow(TypeError);
    expect(() => new (loose(ForbiddenError))(403)).toThrow(TypeError);
    expect(() => new (loose(RequestError))('body too big')).toThrow(/payload_too_large/);
    expect(() => new (loose(ValidationError))('title is required')).toThrow(/fields first/);
    expect(() => new (loose(NotFoundError))({ id: 1 })).toThrow(TypeError);
  });
});
