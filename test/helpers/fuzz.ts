import { LEAKS } from './endpoints.js';
import http, { type IncomingHttpHeaders, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';

// Support for test/fuzz.test.ts: a raw HTTP client (paths, headers and bodies are sent byte for
// byte, without supertest/superagent normalising or re-encoding them), a request tally, and the
// checks every fuzzed response must pass.

/** Every request the fuzz suite put on the wire, and what came back. */
export const stats = { requests: 0, skipped: 0, serverErrors: 0, byStatus: new Map<number, number>() };

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body with `Transfer-Encoding: chunked` instead of a Content-Length. */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed body when it is JSON; `undefined` otherwise. */
  json: unknown;
  /** A one-line description of the request, for failure messages. */
  sent: string;
}

/** Longest time a single request may take before it counts as a hang. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** Header values Node's client accepts: latin1 without control characters (tab allowed). */
export function headerValueOk(value: string): boolean {
  try {
    http.validateHeaderValue('x-check', value);
    return true;
  } catch {
    return false;
  }
}

/** Paths Node's client accepts: no spaces, control characters or code points above U+00FF. */
export function pathOk(path: string): boolean {
  return !/[^\u0021-\u00ff]/.test(path);
}

/** A string as the latin1 rendering of its UTF-8 bytes: what a header or path carrying it looks like on the wire. */
export function utf8AsLatin1(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

/** Bytes as a latin1 string with control characters (other than tab) and DEL removed, so Node sends it as a header value. */
export function bytesAsHeader(bytes: Uint8Array): string {
  return (
    Buffer.from(bytes)
      .toString('latin1')
      // eslint-disable-next-line no-control-regex -- removing control characters is the point
      .replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '')
  );
}

function clip(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text;
}

export function describeRequest(req: RawRequest): string {
  const headers = Object.entries(req.headers ?? {})
    .map(([k, v]) => `${k}: ${JSON.stringify(clip(v, 200))}`)
    .join(', ');
  const body = req.body === undefined ? '' : ` body=${JSON.stringify(clip(Buffer.isBuffer(req.body) ? req.body.toString('latin1') : req.body))}`;
  return `${req.method} ${clip(req.path, 300)}${headers ? ` [${headers}]` : ''}${body}${req.chunked ? ' (chunked)' : ''}`;
}

/** An HTTP server for the app on 127.0.0.1 and a keep-alive client talking to it. */
export class RawClient {
  private constructor(
    private readonly server: http.Server,
    private readonly port: number,
    private readonly agent: http.Agent,
  ) {}

  static async start(listener: RequestListener): Promise<RawClient> {
    const server = http.createServer(listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new RawClient(server, port, new http.Agent({ keepAlive: true, maxSockets: 4 }));
  }

  /**
   * Sends one request. Resolves `undefined` (and counts it as skipped) when Node's client refuses
   * the path or a header before anything is sent; rejects on a hang or a connection the server
   * dropped without answering.
   */
  send(req: RawRequest): Promise<RawResponse | undefined> {
    const sent = describeRequest(req);
    const headers: Record<string, string> = { ...(req.headers ?? {}) };
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
    if (body !== undefined && !req.chunked) headers['content-length'] = String(body.length);
    if (body !== undefined && req.chunked) headers['transfer-encoding'] = 'chunked';
    if (!pathOk(req.path) || !req.path.startsWith('/')) {
      stats.skipped += 1;
      return Promise.resolve(undefined);
    }
    for (const [name, value] of Object.entries(headers)) {
      try {
        http.validateHeaderName(name);
        http.validateHeaderValue(name, value);
      } catch {
        stats.skipped += 1;
        return Promise.resolve(undefined);
      }
    }
    return new Promise<RawResponse | undefined>((resolve, reject) => {
      let outgoing: http.ClientRequest;
      try {
        outgoing = http.request({ host: '127.0.0.1', port: this.port, method: req.method, path: req.path, headers, agent: this.agent });
      } catch (err) {
        // Refused by the client side (ERR_INVALID_CHAR, ERR_UNESCAPED_CHARACTERS, ...): nothing was sent.
        stats.skipped += 1;
        resolve(undefined);
        return;
      }
      stats.requests += 1;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        outgoing.destroy();
        reject(new Error(`no response within ${REQUEST_TIMEOUT_MS} ms (hang): ${sent}`));
      }, REQUEST_TIMEOUT_MS);
      outgoing.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(new Error(`response stream failed (${err.message}): ${sent}`));
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          if (/^application\/json/i.test(String(res.headers['content-type'] ?? '')) && text.length > 0) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          const status = res.statusCode ?? 0;
          stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
          if (status >= 500) stats.serverErrors += 1;
          resolve({ status, headers: res.headers, text, json, sent });
        });
      });
      outgoing.on('error', (err) => {
        // A server that answers early (413 before reading the body) may reset the rest of the upload; the answer counts.
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new Error(`connection failed without a response (${(err as NodeJS.ErrnoException).code ?? err.message}): ${sent}`));
      });
      if (body !== undefined) outgoing.end(body);
      else outgoing.end();
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The property every fuzzed response must have: no 5xx; a 4xx is the contract's one error body
 * (JSON `{error, code, status_code}` (+ `fields` for validation_error), status_code equal to the
 * HTTP status, no internals) and a 401 carries a Bearer challenge.
 */
export function expectSane(res: RawResponse, opts: { head?: boolean } = {}): void {
  const where = `${res.sent}\n  -> ${res.status} ${clip(res.text, 500)}`;
  expect(res.status, `5xx from ${where}`).toBeLessThan(500);
  if (res.status < 400) {
    if (!opts.head && /^application\/json/i.test(String(res.headers['content-type'] ?? ''))) {
      expect(res.json, `2xx/3xx JSON body does not parse: ${where}`).not.toBeUndefined();
    }
    return;
  }
  expect(String(res.headers['content-type'] ?? ''), `error without a JSON content-type: ${where}`).toMatch(/^application\/json/);
  if (res.status === 401) expect(String(res.headers['www-authenticate'] ?? ''), `401 without a Bearer challenge: ${where}`).toMatch(/^Bearer\b/);
  if (opts.head) return;
  const body = res.json as Record<string, unknown> | undefined;
  expect(body !== null && typeof body === 'object' && !Array.isArray(body), `error body is not a JSON object: ${where}`).toBe(true);
  expect(typeof body!.code, `error body without a string code: ${where}`).toBe('string');
  expect(body!.code as string, `error code is not snake_case: ${where}`).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(body!.status_code, `status_code differs from the HTTP status: ${where}`).toBe(res.status);
  expect(typeof body!.error === 'string' && body!.error.length > 0, `error message missing: ${where}`).toBe(true);
  const keys = Object.keys(body!).sort();
  if (body!.code === 'validation_error') {
    expect(keys, `validation error body keys: ${where}`).toEqual(['code', 'error', 'fields', 'status_code']);
    const fields = body!.fields as Record<string, unknown>;
    expect(
      fields !== null && typeof fields === 'object' && !Array.isArray(fields) && Object.keys(fields).length > 0,
      `validation_error without fields: ${where}`,
    ).toBe(true);
    for (const reason of Object.values(fields)) expect(typeof reason, `validation_error reason is not a string: ${where}`).toBe('string');
  } else {
    expect(keys, `error body keys: ${where}`).toEqual(['code', 'error', 'status_code']);
  }
  const lower = res.text.toLowerCase();
  for (const leak of LEAKS) expect(lower, `error body leaks "${leak}": ${where}`).not.toContain(leak);
}

/** `text` cut at a random point, so JSON becomes invalid (or a different valid prefix). */
export function truncateAt(text: string, fraction: number): string {
  return text.slice(0, Math.floor(text.length * fraction));
}

/**
 * A string for a raw URL path: printable ASCII kept as it is (including `%`, `"`, `<`, `\`, ...),
 * every other UTF-8 byte percent-encoded, and the characters in `drop` removed. Node's own HTTP
 * parser answers raw non-ASCII bytes in the request line itself (400, no body), before any app code.
 */
export function rawPathPart(value: string, drop = '/?#'): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (drop.includes(ch)) continue;
    out += byte > 0x20 && byte < 0x7f ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
