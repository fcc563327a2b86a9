import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/**
 * A CommonJS dependency that only some configurations use (node-postgres, SMTP mail, Google and
 * GitHub login, TOTP), or only serving requests (the body parser, the HS256 JWT library), loaded on
 * first use: an instance that never needs it does not carry its code in memory, and a process that
 * never serves a request (the CLI) does not load it. The module's type comes from a type-only import at the call site. `around`, when
 * given, wraps that one load (see `nodePostgres`).
 */
export function lazyRequire<T>(name: string, around: (load: () => T) => T = (loadIt) => loadIt()): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= around(() => load(name) as T));
}
