import * as z from 'zod';
import { AuthError, AuthenticationError, RateLimitError } from '../errors.js';
import type { IntrospectionClients } from '../security/introspection-clients.js';
import type { TokenFailureLimiter } from '../security/token-failures.js';
import type { AuthContext } from '../services/authenticator.js';
import type { Introspector } from '../services/introspection.js';
import { lazySchema, parseInput } from '../validation.js';
import { bodyObject, jsonOrFormBody } from './body.js';
import { readCredentials } from './credentials.js';
import { sendJson } from './respond.js';
import type { Req, Routes } from './types.js';

export interface IntrospectionRouteDeps {
  introspector: Introspector;
  introspectionClients: IntrospectionClients;
  /** Checks a bearer value as requireAuth does (a service key's, here). */
  verifyBearer: (token: string) => Promise<AuthContext>;
  /** Failed client credentials count as failed tokens of the address; undefined without rate limits. */
  tokenFailures: TokenFailureLimiter | undefined;
}

/** RFC 7662 2.1: `token`, and a `token_type_hint` that may be ignored (it is: the token says what it is). */
export const introspectSchema = lazySchema(() =>
  z.object({
    token: z
      .string()
      .min(1)
      .max(16 * 1024),
    token_type_hint: z.string().max(100).optional(),
  }),
);

const notAClient = () =>
  new AuthenticationError('unauthorized', 'introspection needs client credentials (HTTP Basic) or a service key with the scope introspect');

/**
 * `POST /introspect` (RFC 7662), before the JSON-only parser: it takes a form body too. Only
 * introspection clients may call it: HTTP Basic credentials from the `introspection` option, or a
 * service key with the scope `introspect` minted by a site admin or trusted code; anyone else gets
 * 401, and their failures are limited like failed tokens.
 */
export function mountIntrospectionRoute(router: Routes, d: IntrospectionRouteDeps): void {
  async function client(req: Req): Promise<string | undefined> {
    const authorization = req.headers.authorization;
    if (typeof authorization === 'string' && /^basic\b/i.test(authorization)) return d.introspectionClients.authenticate(authorization);
    const bearer = readCredentials(req);
    if (!bearer) return undefined;
    try {
      const auth = await d.verifyBearer(bearer);
      return (await d.introspector.isClientKey(auth)) ? auth.token_id : undefined;
    } catch (err) {
      if (err instanceof AuthError && err.status < 500) return undefined;
      throw err;
    }
  }

  router.post('/introspect', jsonOrFormBody, async (req, res) => {
    const wait = d.tokenFailures?.retryAfter(req) ?? 0;
    if (wait > 0) throw new RateLimitError(wait, 'token', d.tokenFailures?.rule);
    if ((await client(req)) === undefined) {
      // Only a request that sent credentials counts: the usual probe without any costs nothing.
      if (req.headers.authorization !== undefined || req.headers['x-api-token'] !== undefined) d.tokenFailures?.failed(req);
      throw notAClient();
    }
    const { token } = parseInput(introspectSchema(), bodyObject(req));
    sendJson(res, 200, await d.introspector.introspect(token), true);
  });
}
