import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AUTH_ERROR_CODES, AUTH_ERROR_STATUS } from '../src/index.js';

// The README's error table is the user's reference: it must list exactly the codes the library
// can produce, each with the status it always maps to.

function readmeErrorTable(): Map<string, number> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Errors'), readme.indexOf('\n## ', readme.indexOf('### Errors')));
  const rows = new Map<string, number>();
  for (const match of section.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)) rows.set(match[2]!, Number(match[1]));
  return rows;
}

describe('error codes', () => {
  it('the README table lists every AuthErrorCode with its status, and nothing else', () => {
    const table = readmeErrorTable();
    expect([...table.keys()].sort()).toEqual([...AUTH_ERROR_CODES].sort());
    for (const code of AUTH_ERROR_CODES) expect({ code, status: table.get(code) }).toEqual({ code, status: AUTH_ERROR_STATUS[code] });
  });

  it('every code is snake_case', () => {
    for (const code of AUTH_ERROR_CODES) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });
});
