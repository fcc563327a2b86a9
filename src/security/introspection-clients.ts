import { createHash, timingSafeEqual } from 'node:crypto';
import { misuse, plainObject } from '../option-checks.js';

/** One service allowed to call `POST /introspect` with HTTP Basic credentials. */
export interface IntrospectionClient {
  id: string;
  /** At least 32 bytes; generate one with `npx authlib secret`. */
  secret: string;
}

/** The `introspection` option. */
export interface IntrospectionOptions {
  /** Services that may introspect with HTTP Basic `id:secret`. @default [] */
  clients?: IntrospectionClient[];
}

/** The same floor as `jwtSecret`: a client secret is a bearer credential too. */
export const MIN_CLIENT_SECRET_BYTES = 32;

export const DEFAULT_INTROSPECTION: Readonly<{ clients: readonly IntrospectionClient[] }> = Object.freeze({ clients: Object.freeze([]) });

/** A hash of both halves, so every comparison is over 32 bytes whatever was sent. */
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function introspectionOf(value: unknown): Readonly<{ clients: readonly IntrospectionClient[] }> {
  if (value === undefined) return DEFAULT_INTROSPECTION;
  const o = plainObject(value, 'introspection', '{ clients: [{ id, secret }] }');
  const clients = o.clients ?? [];
  if (!Array.isArray(clients)) throw misuse('introspection.clients', 'must be an array of { id, secret }');
  const ids = new Set<string>();
  const resolved = clients.map((c: unknown, i) => {
    const client = plainObject(c, `introspection.clients[${i}]`, '{ id, secret }');
    const { id, secret } = client;
    // RFC 7617: the user-id of Basic credentials cannot hold a colon.
    if (typeof id !== 'string' || id.length === 0 || id.length > 200 || id.includes(':'))
      throw misuse(`introspection.clients[${i}].id`, 'must be a non-empty string without a colon');
    if (ids.has(id)) throw misuse(`introspection.clients[${i}].id`, `repeats the id '${id}'`);
    ids.add(id);
    if (typeof secret !== 'string' || Buffer.byteLength(secret) < MIN_CLIENT_SECRET_BYTES)
      throw misuse(
        `introspection.clients[${i}].secret`,
        `must be a string of at least ${MIN_CLIENT_SECRET_BYTES} bytes; generate one with \`npx authlib secret\``,
      );
    return Object.freeze({ id, secret });
  });
  return Object.freeze({ clients: Object.freeze(resolved) });
}

/**
 * Checks HTTP Basic credentials against the configured clients. Every client is compared, each in
 * constant time over hashes of equal length, so neither the time nor an early exit tells which part
 * (or which client) was wrong.
 */
export class IntrospectionClients {
  readonly #clients: ReadonlyArray<{ id: string; idHash: Buffer; secretHash: Buffer }>;

  constructor(clients: readonly IntrospectionClient[]) {
    this.#clients = clients.map((c) => ({ id: c.id, idHash: digest(c.id), secretHash: digest(c.secret) }));
  }

  /** The client id whose credentials an `Authorization: Basic ...` header carries, or undefined. */
  authenticate(authorization: string | undefined): string | undefined {
    const match = /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(authorization?.trim() ?? '');
    if (!match || this.#clients.length === 0) return undefined;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const rawId = decoded.slice(0, colon);
    const rawSecret = decoded.slice(colon + 1);
    // RFC 6749 2.3.1 form-urlencodes both halves first; `curl -u` and many others do not.
    const candidates: Array<[string, string]> = [[rawId, rawSecret]];
    const id = safeDecode(rawId);
    const secret = safeDecode(rawSecret);
    if (id !== undefined && secret !== undefined && (id !== rawId || secret !== rawSecret)) candidates.push([id, secret]);
    let found: string | undefined;
    for (const [givenId, givenSecret] of candidates) {
      const idHash = digest(givenId);
      const secretHash = digest(givenSecret);
      for (const client of this.#clients) {
        const idOk = timingSafeEqual(idHash, client.idHash);
        const secretOk = timingSafeEqual(secretHash, client.secretHash);
        if (idOk && secretOk) found = client.id;
      }
    }
    return found;
  }
}

function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
