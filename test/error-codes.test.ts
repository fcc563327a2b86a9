import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AUTH_ERROR_ALSO_STATUS, AUTH_ERROR_CODES, AUTH_ERROR_STATUS } from '../src/index.js';
import { TEST_DSN } from './helpers/database.js';

// The error table of docs/reference/errors.md is the user's reference: it must list exactly the
// codes the library can produce, each with every status it can have.

/** Every `status code` pair the reference's table lists. */
function documentedErrorTable(): string[] {
  const page = readFileSync(new URL('../docs/reference/errors.md', import.meta.url), 'utf8');
  const section = page.slice(page.indexOf('# Errors\n'), page.indexOf('\n## ', page.indexOf('# Errors\n')));
  return [...section.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
}

// Nothing here depends on the database: once, on the PGlite run (CI runs the suite on both).
describe.skipIf(TEST_DSN)('error codes', () => {
  it('the error reference (docs/reference/errors.md) lists every AuthErrorCode with each status it can have, and nothing else', () => {
    const expected = AUTH_ERROR_CODES.flatMap((code) =>
      [AUTH_ERROR_STATUS[code], ...(AUTH_ERROR_ALSO_STATUS[code] ?? [])].map((status) => `${status} ${code}`),
    );
    expect(documentedErrorTable()).toEqual(expected.sort());
  });

  it('every code is snake_case', () => {
    for (const code of AUTH_ERROR_CODES) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });
});
