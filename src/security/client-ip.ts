import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/**
 * Builds the function that names the client address. `trustProxy` alone decides whether
 * X-Forwarded-For counts (false: never; true: every hop; a number: that many hops; addresses or
 * subnets: those proxies), exactly as Express's "trust proxy" setting does.
 */
export function clientIpResolver(trustProxy: boolean | number | string | string[]): (req: IncomingMessage) => string {
  if (trustProxy === false) return (req) => req.socket.remoteAddress ?? 'unknown';
  const trust =
    trustProxy === true
      ? () => true
      : typeof trustProxy === 'number'
        ? (_addr: string, i: number) => i < trustProxy
        : proxyaddr.compile(trustProxy);
  return (req) => {
    try {
      return proxyaddr(req, trust);
    } catch {
      return req.socket.remoteAddress ?? 'unknown';
    }
  };
}
