import type { IncomingHttpHeaders } from 'node:http';

/**
 * What a passport strategy is run on: a faithful view of the request (method, url, originalUrl,
 * headers, query, body, protocol, host) with a `session` object whose contents travel with the
 * state in the database, so strategies written for express-session work without one.
 */
export interface RequestView {
  method: 'GET';
  url: string;
  originalUrl: string;
  path: string;
  protocol: string;
  secure: boolean;
  host: string;
  hostname: string;
  headers: IncomingHttpHeaders;
  headersDistinct: Record<string, string[]>;
  query: Record<string, string>;
  body: Record<string, unknown>;
  session: Record<string, unknown>;
  get(name: string): string | undefined;
  header(name: string): string | undefined;
}

// Credentials of the app's own users are none of a third-party strategy's business.
const HIDDEN_HEADERS = new Set(['authorization', 'cookie', 'x-api-token']);

/**
 * A view of a request to `path?params` on `publicUrl`. Always a GET: the start is a top-level
 * navigation, and a callback that arrived as a form POST (`response_mode=form_post`) carries the
 * same parameters a GET would, which is what every strategy reads.
 */
export function requestView(
  publicUrl: string,
  path: string,
  params: URLSearchParams,
  headers: IncomingHttpHeaders,
  session: Record<string, unknown> = {},
): RequestView {
  const base = new URL(publicUrl);
  const search = params.toString();
  const url = search ? `${path}?${search}` : path;
  const shown: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(headers)) if (!HIDDEN_HEADERS.has(key)) shown[key] = value;
  // The host the browser used is the public one, whatever the proxy in front of us says.
  shown.host = base.host;
  const distinct: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(shown)) if (value !== undefined) distinct[key] = Array.isArray(value) ? value : [value];
  const get = (name: string) => {
    const value = shown[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
  return {
    method: 'GET',
    url,
    originalUrl: url,
    path,
    protocol: base.protocol.replace(/:$/, ''),
    secure: base.protocol === 'https:',
    host: base.host,
    hostname: base.hostname,
    headers: shown,
    headersDistinct: distinct,
    query: Object.fromEntries(params),
    body: {},
    session,
    get,
    header: get,
  };
}
