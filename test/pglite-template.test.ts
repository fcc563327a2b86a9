import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthManager } from '../src/index.js';
import { openPGlite } from '../src/db/connect.js';
import { LOCK_FILE } from '../src/db/pglite-lock.js';
import { TEST_DSN } from './helpers/database.js';

// A new embedded database starts from the empty cluster the build made (dist/pglite-template-*.tar.br)
// instead of running initdb, which cost seconds of CPU on every first start.
const root = mkdtempSync(join(tmpdir(), 'authlib-template-'));
let n = 0;
const freshDir = () => join(root, `db${(n += 1)}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** initdb gives every cluster a random system identifier; copies of one template share it. */
async function systemIdentifier(dir: string): Promise<string> {
  const pglite = new PGlite(dir, { extensions: { pg_trgm } });
  try {
    const { rows } = await pglite.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    return rows[0]!.id;
  } finally {
    await pglite.close();
  }
}

async function startAndStop(dbDsn: string): Promise<void> {
  const auth = new AuthManager(null, { dbDsn, jwtSecret: 't'.repeat(32), logger: false });
  await auth.ready;
  await auth.close();
}

describe.skipIf(TEST_DSN)('a new embedded database starts from the pre-built cluster', () => {
  it('two new directories are copies of one cluster, each migrated, and each opens again as an existing database', async () => {
    const [a, b] = [freshDir(), freshDir()];
    await startAndStop(`pglite://${a}`);
    await startAndStop(`pglite://${b}`);
    expect(await systemIdentifier(a)).toBe(await systemIdentifier(b));
    // Reopened: the schema is there and current (nothing to apply), the data directory intact.
    const lines: string[] = [];
    const logger = { info: (_o: object, msg?: string) => lines.push(msg ?? ''), warn() {}, error() {}, debug() {} };
    const auth = new AuthManager(null, { dbDsn: `pglite://${a}`, jwtSecret: 't'.repeat(32), logger });
    await auth.ready;
    const user = await auth.users.create({ username: 'templated', email: 'templated@example.com', password: 'correct horse battery' });
    expect((await auth.users.findById(user.id))?.username).toBe('templated');
    await auth.close();
    expect(lines).toEqual([expect.stringMatching(/^express-authlib: ready in/)]);
  }, 120_000);

  it('a cluster that does not start is set aside: initdb runs instead, with one warning, in the same directory', async () => {
    const dir = freshDir();
    const warnings: string[] = [];
    const logger = { info() {}, error() {}, debug() {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? '') };
    // A tar of one file PostgreSQL cannot start from.
    const broken = async () => new Blob([tarOf('PG_VERSION', 'not a version\n')], { type: 'application/x-tar' });
    const { pglite, release } = await openPGlite(dir, logger, broken);
    try {
      expect((await pglite.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pglite.close();
      await release();
    }
    expect(warnings).toEqual(['express-authlib: the pre-built embedded database did not start; running initdb']);
    expect(readdirSync(dir)).not.toContain(LOCK_FILE);
    expect(readdirSync(dir)).toContain('PG_VERSION');
  }, 120_000);
});

/** A minimal ustar archive holding one file. */
function tarOf(name: string, content: string): Uint8Array {
  const data = Buffer.from(content);
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  header.write(
    Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0') + '\0',
    136,
  );
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const body = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(body);
  return new Uint8Array(Buffer.concat([header, body, Buffer.alloc(1024)]));
}
