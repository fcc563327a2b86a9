import type { EventOrigin } from '../security/audit.js';
import type { Req } from './types.js';

/**
 * Builds `origin(req)`: the client address (through `trustProxy`), user agent and signed-in caller
 * of a request. Under impersonation the caller is the admin, who is the one acting.
 */
export function originResolver(clientIp: (req: Req) => string): (req: Req) => EventOrigin {
  return (req) => {
    const userAgent = req.headers['user-agent'];
    return {
      ip: clientIp(req),
      ...(typeof userAgent === 'string' ? { userAgent } : {}),
      ...(req.auth ? { actorId: req.auth.impersonator_id ?? req.auth.user.id } : {}),
    };
  };
}
