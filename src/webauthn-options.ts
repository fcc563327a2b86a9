import { misuse, plainObject } from './option-checks.js';

// The `webauthn` option (contract 5.7): its shape and its resolver.

/** The `webauthn` option: passkeys. Without it the passkey endpoints answer 501 `not_configured`. */
export interface WebAuthnOptions {
  /** The relying party id: the site's registrable domain or a parent of it (`example.com` serves `app.example.com`). No scheme, port or path. */
  rpId: string;
  /** The name browsers show when a passkey is made, e.g. the app's name. */
  rpName: string;
  /** Exact origins (`scheme://host[:port]`) a ceremony may come from. @default the origin of `publicUrl` */
  origins?: string[];
}

/** The option after resolution. */
export interface ResolvedWebAuthn {
  readonly rpId: string;
  readonly rpName: string;
  readonly origins: readonly string[];
}

// A host name of letters, digits and hyphens, dot-separated: what a browser accepts as an RP ID (never an IP address).
const DOMAIN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;
const IPV4 = /^\d+(\.\d+){3}$/;

/** Whether the origin's host is the RP ID or lies under it (WebAuthn: the RP ID is a registrable suffix of the origin's host). */
const underRpId = (host: string, rpId: string) => host === rpId || host.endsWith(`.${rpId}`);
/** Browsers run WebAuthn only in secure contexts: https, or plain http on localhost. */
const secure = (url: URL) => url.protocol === 'https:' || url.hostname === 'localhost' || url.hostname.endsWith('.localhost');

function originOf(value: unknown, option: string, rpId: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.username !== '' ||
    url.password !== '' ||
    url.origin !== String(value).replace(/\/$/, '')
  )
    throw misuse(option, "must be an origin: scheme, host and port only, e.g. 'https://app.example.com'");
  if (!secure(url)) throw misuse(option, 'must be https (browsers allow passkeys on plain http only at localhost)');
  if (!underRpId(url.hostname, rpId)) throw misuse(option, `is not on the RP ID '${rpId}' or a subdomain of it`);
  return url.origin;
}

/** Validates the `webauthn` option; `origins` default to the origin of `publicUrl`. */
export function webauthnOf(value: unknown, publicUrl: unknown): ResolvedWebAuthn | undefined {
  if (value === undefined) return undefined;
  const o = plainObject(value, 'webauthn', '{ rpId, rpName, origins? }');
  for (const key of Object.keys(o))
    if (!['rpId', 'rpName', 'origins'].includes(key)) throw misuse(`webauthn.${key}`, 'is not known: use rpId, rpName or origins');
  const rpId = o.rpId;
  if (typeof rpId !== 'string' || !DOMAIN.test(rpId) || IPV4.test(rpId))
    throw misuse('webauthn.rpId', "must be a lower-case domain name without scheme, port or path (not an IP address), e.g. 'example.com' or 'localhost'");
  if (typeof o.rpName !== 'string' || o.rpName.trim() === '' || o.rpName.length > 64)
    throw misuse('webauthn.rpName', 'must be a non-empty string of at most 64 characters');
  let origins: string[];
  if (o.origins === undefined) {
    if (typeof publicUrl !== 'string') throw misuse('webauthn.origins', 'is required when `publicUrl` is not set: the origins the app is served from');
    origins = [originOf(new URL(publicUrl).origin, 'publicUrl (the default of webauthn.origins)', rpId)];
  } else {
    if (!Array.isArray(o.origins) || o.origins.length === 0) throw misuse('webauthn.origins', 'must be a non-empty array of origins');
    origins = o.origins.map((origin, i) => originOf(origin, `webauthn.origins[${i}]`, rpId));
  }
  return Object.freeze({ rpId, rpName: o.rpName, origins: Object.freeze([...new Set(origins)]) });
}
