import type pg from 'pg';
import { lazyRequire } from '../lazy-require.js';

/**
 * Runs `load` with a `navigator` like Node 21's on a runtime that has none (Node 20), and removes it
 * after. pg decides whether it runs on Cloudflare Workers when its module loads: without
 * `navigator.userAgent` it builds a fetch `Response`, which loads Node's whole fetch implementation
 * (undici, with http2, TLS and web streams), 1.3 MB of live heap an app that never calls fetch
 * would otherwise carry; V8 marks the live heap again on each major collection, which slows the
 * app's every request. The require is synchronous, so only the modules it loads can see the value,
 * and of those only pg's stream.js reads it.
 */
function withNodeNavigator<T>(load: () => T): T {
  if ('navigator' in globalThis) return load();
  Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.versions.node}` }, configurable: true });
  try {
    return load();
  } finally {
    delete (globalThis as { navigator?: unknown }).navigator;
  }
}

/** node-postgres, loaded on first use: an embedded database (or a Kysely instance) never loads it. */
export const nodePostgres = lazyRequire<typeof pg>('pg', withNodeNavigator);
