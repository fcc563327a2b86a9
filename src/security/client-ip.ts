import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import type { Logger } from '../logger.js';

type Trust = (addr: string, hop: number) => boolean;
/** What Express puts on its requests: `req.app.get('trust proxy fn')` is its compiled `trust proxy` setting. */
type ExpressRequest = IncomingMessage & { app?: { get?: (setting: string) => unknown } };

function compile(trustProxy: boolean | number | string | string[]): Trust {
  if (trustProxy === true) return () => true;
  if (typeof trustProxy === 'number') return (_addr, hop) => hop < trustProxy;
  try {
    return proxyaddr.compile(trustProxy as string | string[]);
  } catch (err) {
    throw new TypeError(
      `express-authlib: option \`trustProxy\` must be true, false, a hop count, or proxy addresses, subnets or 'loopback' / 'linklocal' / 'uniquelocal' (${(err as Error).message})`,
      { cause: err },
    );
  }
}

/**
 * Public addresses no proxy of an app's is: a setting that trusts one of them at every hop (true,
 * ranges covering everything, a function that says yes, a hop count of 10 or more) lets any client
 * choose its address through X-Forwarded-For.
 */
const FOREIGN = ['8.8.8.8', '9.9.9.9', '2001:4860:4860::8888'];
function trustsAnyone(trust: Trust): boolean {
  return FOREIGN.some((addr) => Array.from({ length: 10 }, (_, hop) => hop).every((hop) => safely(() => trust(addr, hop))));
}
const safely = (check: () => boolean) => {
  try {
    return check() === true;
  } catch {
    return false;
  }
};

/**
 * The client address as a counter key: an `X-Forwarded-For` entry may carry a port
 * (`203.0.113.7:41234`, `[2001:db8::1]:443`) or brackets, which would make each connection a
 * client of its own. What is still not an address after that names nobody: the request counts
 * under the peer that sent it.
 */
function normalised(addr: string, peer: string): string {
  let value = addr.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(value)) value = value.slice(0, value.lastIndexOf(':'));
  value = value.replace(/%.*$/, '').toLowerCase();
  return isIP(value) ? value : peer;
}

/**
 * The host Express app's `trust proxy` (compiled, and as set), read per request so that a setting
 * made after `new AuthManager` counts. Undefined outside Express (Connect, plain node:http).
 */
function expressSetting(req: ExpressRequest): { trust: Trust; setting: unknown } | undefined {
  const get = req.app?.get;
  if (typeof get !== 'function') return undefined;
  const trust = get.call(req.app, 'trust proxy fn');
  return typeof trust === 'function' ? { trust: trust as Trust, setting: get.call(req.app, 'trust proxy') } : undefined;
}

const UNTRUSTED_WARNING =
  "express-authlib: requests carry X-Forwarded-For but no proxy is trusted, so every client counts as the proxy's address for rate limits and audit; " +
  "if the app is behind a proxy, set app.set('trust proxy', ...) or the trustProxy option (trustProxy: false silences this)";

const EVERY_HOP_WARNING =
  "express-authlib: 'trust proxy' trusts every X-Forwarded-For hop (true, all addresses, or 10 hops or more) and any client can pick the address its " +
  'rate limits and audit entries count under; trust only your own proxies: the number of hops (e.g. 1), their addresses or ' +
  "subnets, or 'loopback' / 'uniquelocal' (app.set('trust proxy', ...) or the trustProxy option)";

/** An Express app's setting (`app.get(name)` with one argument); undefined for anything else. */
export function appSetting(app: unknown, name: string): unknown {
  const get = (app as { get?: unknown; set?: unknown } | null)?.get;
  // Connect apps have no settings; Express apps have both get and set.
  if (typeof get !== 'function' || typeof (app as { set?: unknown }).set !== 'function') return undefined;
  return (get as (name: string) => unknown).call(app, name);
}

/**
 * Says once that any client may choose its address, whether the option or the host app's setting
 * says so. Given a setting (`trust proxy` as set, or the option) or its compiled function.
 */
export function everyHopWarning(logger: Logger): (setting: unknown) => void {
  let warned = false;
  return (setting) => {
    if (warned || setting === undefined || setting === false) return;
    let trust: Trust;
    try {
      trust = typeof setting === 'function' ? (setting as Trust) : compile(setting as boolean | number | string | string[]);
    } catch {
      return;
    }
    if (!trustsAnyone(trust)) return;
    warned = true;
    logger.warn({}, EVERY_HOP_WARNING);
  };
}

/**
 * Builds the function that names the client address. With the `trustProxy` option, it alone
 * decides whether X-Forwarded-For counts (false: never; true: every hop; a number: that many hops;
 * addresses or subnets: those proxies), exactly as Express's `trust proxy` does. Without it, an
 * Express host app's own `trust proxy` decides; elsewhere (Connect) nothing is trusted, and the
 * first request with X-Forwarded-For gets one warning: behind a proxy, every client would share
 * the proxy's address, and so its rate limits.
 */
export function clientIpResolver(
  trustProxy: boolean | number | string | string[] | undefined,
  logger: Logger,
  warnEveryHop: (setting: unknown) => void = everyHopWarning(logger),
): (req: IncomingMessage) => string {
  if (trustProxy === false) return (req) => req.socket.remoteAddress ?? 'unknown';
  const configured = trustProxy === undefined ? undefined : compile(trustProxy);
  let warned = false;
  return (req) => {
    let trust = configured;
    if (trust === undefined) {
      const host = expressSetting(req);
      trust = host?.trust;
      // A setting made after start-up is caught at the first request it applies to.
      if (host?.setting !== undefined && host.setting !== false) warnEveryHop(host.trust);
      if (!warned && (host === undefined || host.setting === false) && req.headers['x-forwarded-for'] !== undefined) {
        warned = true;
        logger.warn({}, UNTRUSTED_WARNING);
      }
      if (host === undefined) return req.socket.remoteAddress ?? 'unknown';
    }
    const peer = req.socket.remoteAddress ?? 'unknown';
    try {
      return normalised(proxyaddr(req, trust!), peer);
    } catch {
      return peer;
    }
  };
}
