/** Longest redirect target accepted. */
export const MAX_REDIRECT_LENGTH = 2048;

/** Whether `url` names this machine: plain http is acceptable only there (development, tests). */
export function isLoopbackUrl(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/** Whether `value` is an absolute http(s) URL without credentials: the shape of a configured redirect. */
export function isAbsoluteHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

function pathAllowed(path: string, allowedPath: string): boolean {
  if (allowedPath === '/' || allowedPath === '') return true;
  const prefix = allowedPath.endsWith('/') ? allowedPath : `${allowedPath}/`;
  return path === allowedPath || path.startsWith(prefix);
}

/**
 * The normalised target if `raw` may be redirected to after OAuth, else undefined. A target must be
 * an absolute http(s) URL matching an `allowedRedirects` entry exactly in scheme, host and port
 * (and, when the entry has a path, lying under it). Anything a browser might read differently from
 * the WHATWG parser (backslashes, control characters, credentials, an own fragment) is refused.
 */
export function allowedRedirect(raw: unknown, allowed: readonly string[]): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_REDIRECT_LENGTH) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\\\s\x00-\x1f\x7f]|%5c|%2f%2f/i.test(raw)) return undefined;
  if (!/^https?:\/\/[^/]/i.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (!isAbsoluteHttpUrl(url.href) || url.hash !== '') return undefined;
  for (const entry of allowed) {
    const a = new URL(entry);
    if (url.protocol === a.protocol && url.host === a.host && pathAllowed(url.pathname, a.pathname)) return url.href;
  }
  return undefined;
}
