import type { Kysely } from 'kysely';
import { findSealedWithPrefix, replaceSealedValue } from '../db/sealed-values-repository.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { seal, unsealLegacy } from '../tokens/encryption.js';
import { SEALED_COLUMNS } from './sealed-places.js';

/**
 * The data migration of sealed secrets, run at every start-up before the database is used: each
 * value still in the old format (`v1.`, bound to no row) is opened and sealed again bound to its
 * row and purpose (`v2.`). SQL cannot do it (the key lives in the app). Safe to run on several
 * instances at once: a value is only replaced while it is still the one that was read, so the
 * first instance wins and the others change nothing. After it, nothing reads the old format: a
 * value that did not open (another `encryptionKey`, or altered) stays as it is and reads as no
 * secret. Returns how many values were re-sealed and how many could not be.
 */
export async function resealLegacySecrets(db: Kysely<Database>, key: Buffer, logger: Logger): Promise<{ resealed: number; unreadable: number }> {
  let resealed = 0;
  let unreadable = 0;
  for (const place of SEALED_COLUMNS) {
    for (const row of await findSealedWithPrefix(db, place.table, place.column, place.key, 'v1.')) {
      const sealed = row[place.column]!;
      const plaintext = unsealLegacy(key, sealed, place.legacyContext?.(row));
      if (plaintext === undefined) {
        unreadable += 1;
        continue;
      }
      if (await replaceSealedValue(db, place.table, place.column, place.key, row, sealed, seal(key, plaintext, place.binding(row)))) resealed += 1;
    }
  }
  if (resealed > 0) logger.info({ resealed }, 'express-authlib: re-sealed stored secrets, each bound to its row');
  if (unreadable > 0)
    logger.warn({ unreadable }, 'express-authlib: stored secrets in the old format that do not decrypt (was encryptionKey changed?); they read as absent');
  return { resealed, unreadable };
}
