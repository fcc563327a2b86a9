import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Response } from 'supertest';
import { PASSWORD, type TestApp } from './app.js';

/** Where the router is mounted by createTestApp. */
export const BASE = '/api/v1/users';

/** The exact keys of the wire-format user object (contract section 3). */
export const USER_KEYS = ['created_at', 'email', 'email_verified', 'id', 'is_active', 'last_login', 'profile', 'real_name', 'roles', 'username'];

/** Substrings that must never appear in an error body: internals, SQL, library names, stack frames. */
export const LEAKS = [
  'stack',
  'node_modules',
  'select ',
  'insert ',
  'update ',
  'delete from',
  'kysely',
  'pglite',
  'postgres',
  'bcrypt',
  'zod',
  'body-parser',
  'jsonwebtoken',
  '.ts:',
  '.js:',
  'password_hash',
  'token_hash',
  'token_version',
];

/** A username no other test uses. */
export function uniqueName(prefix = 'u'): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/**
 * Asserts the one error shape of the contract: JSON `{error, code, status_code}` (+ `fields` for
 * validation_error) and nothing else, with no internals leaking. `secrets` must not be echoed.
 */
export function expectError(res: Response, status: number, code: string, secrets: string[] = []): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { code } });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.body as Record<string, unknown>;
  const keys = Object.keys(body).sort();
  expect(keys).toEqual(code === 'validation_error' ? ['code', 'error', 'fields', 'status_code'] : ['code', 'error', 'status_code']);
  expect(body.status_code).toBe(status);
  expect(typeof body.error).toBe('string');
  expect((body.error as string).length).toBeGreaterThan(0);
  expect(body.code).toMatch(/^[a-z][a-z0-9_]*$/);
  if (code === 'validation_error') {
    const fields = body.fields as Record<string, unknown>;
    expect(fields).toBeTypeOf('object');
    expect(fields).not.toBeNull();
    expect(Object.keys(fields).length).toBeGreaterThan(0);
    for (const reason of Object.values(fields)) expect(typeof reason).toBe('string');
  }
  const text = res.text.toLowerCase();
  for (const leak of LEAKS) expect(text, `error body leaks "${leak}"`).not.toContain(leak);
  for (const secret of secrets) if (secret) expect(res.text, 'error body echoes a secret').not.toContain(secret);
  if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
}

/** Asserts a validation_error that names `field` in `fields`. */
export function expectValidation(res: Response, field: string): void {
  expectError(res, 400, 'validation_error');
  expect(Object.keys(res.body.fields)).toContain(field);
}

/** Asserts a wire-format user object: exactly the contract's keys, sane types, ISO-8601 UTC timestamps. */
export function expectUserObject(user: unknown): void {
  expect(user).toBeTypeOf('object');
  const u = user as Record<string, unknown>;
  expect(Object.keys(u).sort()).toEqual(USER_KEYS);
  expect(u.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  expect(typeof u.username).toBe('string');
  expect(Array.isArray(u.roles)).toBe(true);
  expect(typeof u.email_verified).toBe('boolean');
  expect(typeof u.is_active).toBe('boolean');
  expectIsoUtc(u.created_at);
  if (u.last_login !== null) expectIsoUtc(u.last_login);
  expect(u.profile).toBeTypeOf('object');
  expect(u.profile).not.toBeNull();
  const text = JSON.stringify(u);
  for (const secret of ['password', 'hash', 'token', '$2a$', '$2b$', '$authlib', 'totp', 'otp']) expect(text).not.toContain(secret);
}

/** An ISO-8601 UTC timestamp string that round-trips through Date. */
export function expectIsoUtc(value: unknown): void {
  expect(value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  expect(Number.isNaN(Date.parse(value as string))).toBe(false);
}

/** POST /login. */
export function login(t: TestApp, username: string, password = PASSWORD) {
  return t.http.post(`${BASE}/login`).send({ username, password });
}

/** POST /login that must succeed; returns `{token, refresh_token, user}`. */
export async function loginOk(
  t: TestApp,
  username: string,
  password = PASSWORD,
): Promise<{ token: string; refresh_token: string; user: Record<string, unknown> }> {
  const res = await login(t, username, password);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** POST /token-refresh. */
export function refresh(t: TestApp, refreshToken: unknown) {
  return t.http.post(`${BASE}/token-refresh`).send({ refresh_token: refreshToken });
}

/** GET /me (the helper app's requireAuth() route) with a bearer token; returns the status. */
export async function meStatus(t: TestApp, token: string): Promise<number> {
  return (await t.http.get('/me').set('Authorization', `Bearer ${token}`)).status;
}
