import { createHash } from 'node:crypto';
import type { Jwks } from '../tokens/jwks.js';
import type { Next, Req, Res, Routes } from './types.js';

/** Where the key set is published, under `basePath` (and, with `jwksAtRoot`, at the root). */
export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * How long verifiers and shared caches may keep the key set: a new key must be listed (after the
 * signing one) at least this long before it starts to sign, so every verifier has seen it.
 */
export const JWKS_MAX_AGE_SECONDS = 300;

/**
 * Serves a key set, serialized once (the keys are fixed for the instance's life), with cache
 * headers and an ETag, answering a matching `If-None-Match` with 304.
 */
export function jwksHandler(jwks: Jwks): (req: Req, res: Res, next: Next) => void {
  const payload = JSON.stringify(jwks);
  const etag = `"${createHash('sha256').update(payload).digest('base64url').slice(0, 27)}"`;
  return function jwks(req, res, next) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    res.setHeader('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    res.setHeader('ETag', etag);
    const given = req.headers['if-none-match'];
    if (typeof given === 'string' && given.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(payload));
    res.end(req.method === 'HEAD' ? undefined : payload);
  };
}

/** `GET /.well-known/jwks.json` on the router; without `signingKeys` it goes on to the usual 404. */
export function mountJwksRoute(router: Routes, jwks: Jwks | undefined): void {
  const handler = jwks ? jwksHandler(jwks) : undefined;
  router.get(JWKS_PATH, (req, res, next) => (handler ? handler(req, res, next) : next()));
}

/**
 * The handler for `app.use('/.well-known/jwks.json', ...)` (`jwksAtRoot`): `use` matches the path
 * as a prefix, so only the exact path is answered and anything below it goes on.
 */
export function rootJwksMiddleware(jwks: Jwks): (req: Req, res: Res, next: Next) => void {
  const handler = jwksHandler(jwks);
  return function rootJwks(req, res, next) {
    const rest = (req.url ?? '').split('?')[0];
    if (rest !== '/' && rest !== '') return next();
    handler(req, res, next);
  };
}
