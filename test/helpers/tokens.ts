import { createHmac } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { AuthManager, type AuthManagerOptions } from '../../src/index.js';
import { databaseOptions } from './database.js';

/** base64url of a JSON value (or of a raw string when `raw` is set). */
export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function b64raw(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

/** Decodes one JWT segment as JSON. */
export function decodeSegment<T = Record<string, unknown>>(segment: string): T {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as T;
}

/** Header and payload of a compact JWT, unverified. */
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signature: string } {
  const [h, p, s] = token.split('.');
  return { header: decodeSegment(h!), payload: decodeSegment(p!), signature: s ?? '' };
}

const HMAC: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** HMAC signature (base64url) of `signingInput` with the given algorithm and key. */
export function hmac(signingInput: string, key: string | Buffer, alg: 'HS256' | 'HS384' | 'HS512' = 'HS256'): string {
  return createHmac(HMAC[alg]!, key).update(signingInput).digest('base64url');
}

/**
 * A compact JWT built by hand. `payload` may be any JSON value, or a raw string (not JSON-encoded)
 * when `rawPayload` is set. With `key` the token is HMAC-signed with `signAlg` (default: the
 * header's alg when it is HS*, else HS256); with `signature` that exact signature segment is used.
 */
export function forge(
  header: Record<string, unknown>,
  payload: unknown,
  opts: { key?: string | Buffer; signAlg?: 'HS256' | 'HS384' | 'HS512'; signature?: string; rawPayload?: boolean } = {},
): string {
  const input = `${b64json(header)}.${opts.rawPayload ? b64raw(payload as string) : b64json(payload)}`;
  if (opts.signature !== undefined) return `${input}.${opts.signature}`;
  if (opts.key === undefined) return `${input}.`;
  const headerAlg = typeof header.alg === 'string' && header.alg in HMAC ? (header.alg as 'HS256' | 'HS384' | 'HS512') : 'HS256';
  return `${input}.${hmac(input, opts.key, opts.signAlg ?? headerAlg)}`;
}

/** Replaces the payload of a real token, keeping its header and signature. */
export function tamperPayload(token: string, change: (payload: Record<string, unknown>) => Record<string, unknown>): string {
  const [h, p, s] = token.split('.');
  return `${h}.${b64json(change(decodeSegment(p!)))}.${s}`;
}

export interface ExtraInstance {
  auth: AuthManager;
  http: ReturnType<typeof request>;
  close(): Promise<void>;
}

/**
 * A second AuthManager (with its own Express app and the same test routes as createTestApp) on an
 * existing schema, e.g. another instance of the same deployment, or one with rotated keys.
 * Its close() leaves the schema in place.
 */
export async function extraInstance(schema: string, overrides: Partial<AuthManagerOptions> & Pick<AuthManagerOptions, 'jwtSecret'>): Promise<ExtraInstance> {
  const app = express();
  const auth = new AuthManager(app, {
    ...(await databaseOptions()),
    dbSchema: schema,
    bcryptRounds: 4,
    rateLimit: false,
    ...overrides,
  });
  await auth.ready;
  app.get('/me', auth.requireAuth(), (req, res) => res.json({ username: req.auth!.user.username, method: req.auth!.method }));
  app.get('/admin', auth.requireAuth({ roles: ['admin'] }), (_req, res) => res.json({ admin: true }));
  // Any caller, service keys included: `group` is the key's group.
  app.get('/service', auth.requireAuth({ allowServiceKeys: true }), (req, res) => res.json({ method: req.auth!.method, group: req.auth!.group?.id ?? null }));
  return { auth, http: request(app), close: () => auth.close() };
}
