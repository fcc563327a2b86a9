import type { AsymmetricKey, PublicJwk } from './signing-keys.js';

/** A JSON Web Key Set (RFC 7517 5): the public halves of `signingKeys`, never a secret. */
export interface Jwks {
  keys: PublicJwk[];
}

/** The JWKS of `keys`, a fresh object each call, in the option's order (the signing key first). */
export function jwksOf(keys: readonly AsymmetricKey[]): Jwks {
  return { keys: keys.map((k) => ({ ...k.jwk })) };
}
