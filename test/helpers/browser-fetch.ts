// A browser's fetch for tests in Node: one cookie jar shared by every page of the "browser", and
// per page an origin that goes into `Origin` and decides what CORS lets through. Enforced as a
// browser does: a non-simple cross-origin request is preflighted and not sent unless the preflight
// allows its origin, method, headers and credentials; a cross-origin response without a matching
// Access-Control-Allow-Origin (and -Credentials) is a TypeError; cookies go out and come in only
// with `credentials: 'include'` across origins. All origins here are one site (localhost), so
// SameSite=Strict cookies ride along, as they do between ports in a real browser.

interface StoredCookie {
  name: string;
  value: string;
  path: string;
}

/** What the browser sent and got, for asserting on requests a page cannot read the answer of. */
export interface BrowserLogEntry {
  page: string;
  method: string;
  path: string;
  status: number | 'blocked';
  setCookie: string[];
}

const SIMPLE_METHODS = new Set(['GET', 'HEAD', 'POST']);
const SIMPLE_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
const SAFELISTED = new Set(['accept', 'accept-language', 'content-language', 'content-type']);

export class Browser {
  readonly jar = new Map<string, StoredCookie>();
  readonly log: BrowserLogEntry[] = [];

  /** The cookies of the jar (HttpOnly included: this is the browser's view, not a page's). */
  cookies(name: string): StoredCookie[] {
    return [...this.jar.values()].filter((c) => c.name === name);
  }

  /** The `fetch` of a page loaded from `pageOrigin`. */
  page(pageOrigin: string): typeof fetch {
    return async (input, init = {}) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const method = (init.method ?? 'GET').toUpperCase();
      const headers = new Headers(init.headers);
      const crossOrigin = url.origin !== pageOrigin;
      const credentials = init.credentials ?? 'same-origin';
      const withCookies = credentials === 'include' || (credentials === 'same-origin' && !crossOrigin);
      if (crossOrigin || method !== 'GET') headers.set('Origin', pageOrigin);
      const blocked = () => {
        this.log.push({ page: pageOrigin, method, path: url.pathname, status: 'blocked', setCookie: [] });
        return new TypeError('Failed to fetch');
      };

      if (crossOrigin) {
        const custom = [...headers.keys()].filter((h) => h !== 'origin' && !SAFELISTED.has(h));
        const type = headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
        if (!SIMPLE_METHODS.has(method) || custom.length > 0 || (type !== undefined && !SIMPLE_TYPES.has(type))) {
          const requested = [...custom, ...(type !== undefined && !SIMPLE_TYPES.has(type) ? ['content-type'] : [])];
          const pre = await fetch(url, {
            method: 'OPTIONS',
            headers: { Origin: pageOrigin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': requested.join(',') },
          });
          const allowedHeaders = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
          const allowedMethods = (pre.headers.get('access-control-allow-methods') ?? '').toUpperCase().split(/\s*,\s*/);
          if (
            pre.headers.get('access-control-allow-origin') !== pageOrigin ||
            (credentials === 'include' && pre.headers.get('access-control-allow-credentials') !== 'true') ||
            !requested.every((h) => allowedHeaders.includes(h)) ||
            (!SIMPLE_METHODS.has(method) && !allowedMethods.includes(method))
          )
            throw blocked();
        }
      }

      if (withCookies) {
        // RFC 6265 path-match: the same path, or below it (`Path=/` matches every path).
        const sent = [...this.jar.values()].filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
        if (sent.length > 0) headers.set('Cookie', sent.map((c) => `${c.name}=${c.value}`).join('; '));
      } else headers.delete('Cookie');

      const res = await fetch(url, { ...init, method, headers, redirect: 'manual' });
      const setCookie = res.headers.getSetCookie();
      this.log.push({ page: pageOrigin, method, path: url.pathname, status: res.status, setCookie });
      // A credentialed cross-origin response updates the jar even when the page may not read it.
      if (withCookies) for (const line of setCookie) this.#store(line, url);
      if (crossOrigin) {
        if (res.headers.get('access-control-allow-origin') !== pageOrigin) throw blocked();
        if (credentials === 'include' && res.headers.get('access-control-allow-credentials') !== 'true') throw blocked();
      }
      return res;
    };
  }

  #store(line: string, url: URL): void {
    const [pair, ...attributes] = line.split(';').map((p) => p.trim());
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    const attr = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.split('=')[1];
    const path = attr('path') ?? url.pathname.replace(/\/[^/]*$/, '') ?? '/';
    const key = `${name}|${path}`;
    if (attr('max-age') === '0' || value === '') this.jar.delete(key);
    else this.jar.set(key, { name, value, path });
  }
}
