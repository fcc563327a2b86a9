import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The format every value is sealed in now: bound to its place (see `SealBinding`). */
const VERSION = 'v2';
/** The format before values were bound to their place; read only by the re-seal at start-up. */
const LEGACY_VERSION = 'v1';

/**
 * Where a sealed value lives: its table, its column (the purpose) and the key of its row. It is
 * authenticated with the value (GCM associated data) but not stored in it, so a ciphertext copied
 * to another row, another column or another table does not decrypt there.
 */
export interface SealBinding {
  table: string;
  column: string;
  /** The values that name the row (user id, provider, connector...), in a fixed order. */
  row: readonly string[];
}

/** The associated data of a binding: JSON, so no two bindings share one (no separator to smuggle). */
const associatedData = (binding: SealBinding) => Buffer.from(JSON.stringify([binding.table, binding.column, ...binding.row]), 'utf8');

/**
 * AES-256-GCM, bound to `binding`: `v2.<iv>.<ciphertext>.<tag>` (base64url). For secrets that must
 * be usable later (provider tokens, TOTP secrets, integration secrets, OAuth flow state).
 */
export function seal(key: Buffer, plaintext: string, binding: SealBinding): string {
  return sealWith(VERSION, key, plaintext, associatedData(binding));
}

/**
 * The plaintext, or undefined when the value was not sealed with `key` for this very place (another
 * row, column or table), was tampered with, or is in the old format (which only the re-seal reads).
 */
export function unseal(key: Buffer, sealed: string, binding: SealBinding): string | undefined {
  return openWith(VERSION, key, sealed, associatedData(binding));
}

/** Whether `sealed` is in the format before binding, which the re-seal at start-up replaces. */
export function isLegacySealed(sealed: string): boolean {
  return sealed.startsWith(`${LEGACY_VERSION}.`);
}

/**
 * The plaintext of an old-format value (`v1`), for the re-seal at start-up only. Old values were
 * bound to nothing, except integration secrets (`legacyContext`, their old associated data).
 */
export function unsealLegacy(key: Buffer, sealed: string, legacyContext?: string): string | undefined {
  return openWith(LEGACY_VERSION, key, sealed, legacyContext === undefined ? undefined : Buffer.from(legacyContext, 'utf8'));
}

function sealWith(version: string, key: Buffer, plaintext: string, aad: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [version, iv.toString('base64url'), data.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

function openWith(version: string, key: Buffer, sealed: string, aad: Buffer | undefined): string | undefined {
  if (typeof sealed !== 'string') return undefined;
  const [given, iv, data, tag, extra] = sealed.split('.');
  if (given !== version || !iv || data === undefined || !tag || extra !== undefined) return undefined;
  try {
    // The full 16-byte tag only: a truncated tag would be easier to forge.
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
