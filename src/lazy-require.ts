import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/**
 * A CommonJS dependency that only some configurations use (SMTP mail, Google and GitHub login,
 * TOTP), loaded on first use: an instance that never needs it does not carry its code in memory.
 * The module's type comes from a type-only import at the call site.
 */
export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load(name) as T);
}
