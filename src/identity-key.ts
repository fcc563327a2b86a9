/**
 * The comparison key of a username or email: trimmed, NFKC, then fully case-folded, so that every
 * spelling a person would call "the same name" finds one account. Folding upper-then-lower applies
 * Unicode's full case mappings (`straße`, `STRASSE` and `strasse` meet at `strasse`), and final
 * sigma becomes σ as case folding has it (`ΟΔΟΣ`, `οδος` and `οδοσ` meet at `οδοσ`). It is at least
 * as coarse as Unicode's default case folding: where the two differ (dotless ı folds to i here)
 * more spellings share one account, never fewer. NFKC again at the end, since case mapping can
 * un-normalise (RFC 8265's UsernameCaseMapped profile orders it the same way). Lower-casing first
takes the capital sharp s (ẞ) to ß, which upper-casing then spells SS.
 *
 * Changing this function changes every stored key: it needs a migration that re-keys the rows
 * (see `sql/0004_identifier_keys.sql`).
 */
export function identityKey(value: string): string {
  return value.trim().normalize('NFKC').toLowerCase().toUpperCase().toLowerCase().replace(/ς/g, 'σ').normalize('NFKC');
}
