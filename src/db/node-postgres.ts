import { createRequire } from 'node:module';
import type pg from 'pg';

const load = createRequire(import.meta.url);
let loaded: typeof pg | undefined;

/**
 * node-postgres, loaded on first use: an embedded database (or a Kysely instance) never loads it.
 *
 * On a runtime without `navigator` (Node 20), pg decides whether it runs on Cloudflare Workers when
 * its module loads, by building a fetch `Response`: that loads Node's whole fetch implementation
 * (undici, with http2, TLS and web streams), 1.3 MB of live heap an app that never calls fetch would
 * otherwise carry, and every byte of live heap is marked again on each of the collector's major
 * cycles, which slows the app's every request. Node 21 and later answer the question with their
 * own `navigator.userAgent`; on Node 20 it is given for the length of the synchronous require,
 * so nothing else can see it, and removed.
 */
export function nodePostgres(): typeof pg {
  if (loaded) return loaded;
  if ('navigator' in globalThis) return (loaded = load('pg') as typeof pg);
  Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.versions.node}` }, configurable: true });
  try {
    return (loaded = load('pg') as typeof pg);
  } finally {
    delete (globalThis as { navigator?: unknown }).navigator;
  }
}
