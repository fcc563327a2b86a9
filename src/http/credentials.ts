import type { IncomingMessage } from 'node:http';

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * The bearer value of a request: `Authorization: Bearer <token>`, else `X-API-Token: <token>`.
 * Never a query string, cookie or body. `''` means a credential header was sent but is malformed.
 */
export function readCredentials(req: IncomingMessage): string | undefined {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string' && /^bearer\b/i.test(authorization)) {
    return BEARER.exec(authorization)?.[1] ?? '';
  }
  const apiToken = req.headers['x-api-token'];
  if (typeof apiToken === 'string') return apiToken.trim();
  return undefined;
}
