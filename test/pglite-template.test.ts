import { spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { inspect } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthManager, ServiceUnavailableError } from '../src/index.js';
import { sql, type Kysely } from 'kysely';
import { connect, openPGlite } from '../src/db/connect.js';
import { LOCK_FILE } from '../src/db/pglite-lock.js';
import { pgliteTemplate, type PGliteTemplate } from '../src/db/pglite-template.js';
import { TEST_DSN } from './helpers/database.js';

// A new embedded database starts from the cluster the build made and migrated
// (dist/pglite-template-*.tar.br) instead of running initdb and every migration, which cost seconds
// of CPU on every first start.
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

/** Starts and closes an AuthManager; returns its info lines. */
async function startLines(dbDsn: string, dbSchema?: string): Promise<string[]> {
  const lines: string[] = [];
  const logger = { info: (_o: object, msg?: string) => lines.push(msg ?? ''), warn() {}, error() {}, debug() {} };
  const auth = new AuthManager(null, { dbDsn, jwtSecret: 't'.repeat(32), logger, ...(dbSchema ? { dbSchema } : {}) });
  await auth.ready;
  await auth.close();
  return lines;
}

async function rows(dir: string, query: string): Promise<unknown[]> {
  const pglite = new PGlite(dir, { extensions: { pg_trgm } });
  try {
    return (await pglite.query(query)).rows;
  } finally {
    await pglite.close();
  }
}

describe.skipIf(TEST_DSN)('a new embedded database starts from the pre-built cluster', () => {
  it('two new directories are copies of one cluster, migrated already, and each opens again as an existing database', async () => {
    const [a, b] = [freshDir(), freshDir()];
    // The default schema comes migrated: the first start has nothing to apply.
    expect(await startLines(`pglite://${a}`)).toEqual([expect.stringMatching(/^express-authlib: ready in/)]);
    await startLines(`pglite://${b}`);
    expect(await systemIdentifier(a)).toBe(await systemIdentifier(b));
    const migrations = readdirSync(fileURLToPath(new URL('../sql/', import.meta.url))).filter((f) => /^\d{4}_.+\.sql$/.test(f));
    expect(await rows(a, 'SELECT name FROM authlib.authlib_migrations ORDER BY name')).toEqual(migrations.map((f) => ({ name: f.replace(/\.sql$/, '') })));
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

  it('in memory the cluster is unpacked to a private temporary file, removed once loaded; a directory gets it unpacked in place', async () => {
    const scratch = mkdtempSync(join(root, 'tmp-'));
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = scratch; // os.tmpdir() reads it on every call
    try {
      for (const [dsn, dir] of [
        ['pglite://memory', undefined],
        ['pglite://' + freshDir(), 'dir'],
      ] as const) {
        // What appeared there meanwhile: the unpacked cluster's private directory (in memory only), then nothing.
        const seen = new Set<string>();
        const watcher = watch(scratch, (_event, name) => name && seen.add(String(name)));
        const auth = new AuthManager(null, { dbDsn: dsn, jwtSecret: 't'.repeat(32), logger: false });
        await auth.ready;
        watcher.close();
        expect([...seen].filter((name) => name.startsWith('authlib-cluster-'))).toHaveLength(dir ? 0 : 1);
        expect(readdirSync(scratch)).toEqual([]);
        if (dir) expect(readdirSync(dsn.slice('pglite://'.length)).filter((name) => name.startsWith('.authlib-cluster-'))).toEqual([]);
        await auth.users.create({ username: 'unpacked', email: 'unpacked@example.com', password: 'correct horse battery' });
        await auth.close();
      }
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
  }, 120_000);

  it('a first start cut short while moving the cluster in: the next start undoes its moves and starts again; later files of the app stay', async () => {
    const dir = freshDir();
    // What a process killed half-way leaves: its staging directory with the list of names to move
    // and those not moved yet, the ones it moved, and no PG_VERSION.
    const staging = join(dir, '.authlib-cluster-Xy12ab');
    mkdirSync(join(staging, 'global'), { recursive: true });
    writeFileSync(join(staging, 'PG_VERSION'), '17\n');
    writeFileSync(join(staging, '.authlib-moving'), ['base', 'postgresql.conf', 'global', 'PG_VERSION'].join('\n'));
    mkdirSync(join(dir, 'base', '1'), { recursive: true });
    writeFileSync(join(dir, 'base', '1', '1259'), 'half a catalog');
    writeFileSync(join(dir, 'postgresql.conf'), 'half a config');
    // The app's own file, added after the crash.
    writeFileSync(join(dir, 'notes.txt'), 'the app');
    expect(await startLines(`pglite://${dir}`)).toEqual([expect.stringMatching(/^express-authlib: ready in/)]);
    expect(readdirSync(dir).filter((name) => name.startsWith('.authlib-cluster-'))).toEqual([]);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('the app');
    const auth = new AuthManager(null, { dbDsn: `pglite://${dir}`, jwtSecret: 't'.repeat(32), logger: false });
    await auth.ready;
    const user = await auth.users.create({ username: 'resumed', email: 'resumed@example.com', password: 'correct horse battery' });
    expect((await auth.users.findById(user.id))?.email).toBe('resumed@example.com');
    await auth.close();
  }, 120_000);

  it.runIf(process.platform === 'linux')(
    "a staging directory's list that is a FIFO or a link to a device is not read: the start does not hang, and the staging directory goes",
    async () => {
      const cases: Array<(file: string) => void> = [
        (file) => spawnSync('mkfifo', [file]), // opening it for reading waited for a writer for ever
        (file) => symlinkSync('/dev/zero', file), // endless
        (file) => writeFileSync(file, 'x'.repeat(1024 * 1024)), // larger than any list the library writes
      ];
      for (const make of cases) {
        const dir = freshDir();
        const list = join(dir, '.authlib-cluster-Fi1f0s', '.authlib-moving');
        mkdirSync(dirname(list), { recursive: true });
        make(list);
        const timeout = new Promise<string[]>((_, reject) => setTimeout(() => reject(new Error(`start hung: ${make.toString()}`)), 20_000).unref());
        try {
          expect(await Promise.race([startLines(`pglite://${dir}`), timeout])).toEqual([expect.stringMatching(/^express-authlib: ready in/)]);
        } finally {
          // Releases a read that did block (the code before), so the worker is not left with a stuck thread.
          try {
            closeSync(openSync(list, constants.O_WRONLY | constants.O_NONBLOCK));
          } catch {
            // not a FIFO, or nobody is reading it
          }
        }
        expect(readdirSync(dir).filter((name) => name.startsWith('.authlib-cluster-'))).toEqual([]);
      }
    },
    120_000,
  );

  it("a new directory holding the app's own files gets the cluster beside them; a failed start removes only what it put there", async () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'notes'), { recursive: true });
    writeFileSync(join(dir, 'config.json'), '{"mine":true}');
    writeFileSync(join(dir, 'notes', 'todo.txt'), 'keep me');
    writeFileSync(join(dir, '.gitkeep'), '');
    writeFileSync(join(dir, '.authlib-cluster-backup'), 'a file of the app, shaped like a staging directory');
    expect(await startLines(`pglite://${dir}`)).toEqual([expect.stringMatching(/^express-authlib: ready in/)]);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{"mine":true}');
    expect(readFileSync(join(dir, 'notes', 'todo.txt'), 'utf8')).toBe('keep me');
    expect(readFileSync(join(dir, '.authlib-cluster-backup'), 'utf8')).toBe('a file of the app, shaped like a staging directory');
    expect(readdirSync(dir)).toContain('.gitkeep');

    // A start from the cluster that fails (a full disk, say): what it moved in goes, the app's files stay.
    const other = freshDir();
    mkdirSync(other);
    writeFileSync(join(other, 'backup.sql'), 'the app');
    const warnings: string[] = [];
    const logger = { info() {}, error() {}, debug() {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? '') };
    const failing = async (): Promise<PGliteTemplate> => ({
      schema: 'authlib',
      unpackInto: async (into) => {
        writeFileSync(join(into, 'PG_VERSION'), 'not a version\n');
        return ['PG_VERSION'];
      },
      asTar: () => Promise.reject(new Error('not in memory')),
    });
    const { pglite, release } = await openPGlite(other, 'authlib', logger, failing);
    await pglite.close();
    await release();
    expect(warnings).toEqual(['express-authlib: the pre-built embedded database did not start; running initdb']);
    expect(readFileSync(join(other, 'backup.sql'), 'utf8')).toBe('the app');
    expect(readFileSync(join(other, 'PG_VERSION'), 'utf8')).toMatch(/^\d+\n$/);

    // A directory that already holds a name of the cluster gets nothing moved in (initdb runs instead).
    const clash = freshDir();
    mkdirSync(clash);
    writeFileSync(join(clash, 'postgresql.conf'), "the app's own");
    expect(await (await pgliteTemplate())!.unpackInto(clash)).toBeUndefined();
    expect(readdirSync(clash)).toEqual(['postgresql.conf']);
    expect(readFileSync(join(clash, 'postgresql.conf'), 'utf8')).toBe("the app's own");
  }, 120_000);

  it('a directory reached through a symbolic link starts from the cluster and opens again', async () => {
    const real = freshDir();
    const link = join(root, `link-${(n += 1)}`);
    mkdirSync(real);
    symlinkSync(real, link);
    expect(await startLines(`pglite://${link}`)).toEqual([expect.stringMatching(/^express-authlib: ready in/)]);
    expect(readdirSync(real)).toContain('PG_VERSION');
    const auth = new AuthManager(null, { dbDsn: `pglite://${link}`, jwtSecret: 't'.repeat(32), logger: false });
    await auth.ready;
    await auth.users.create({ username: 'linked', email: 'linked@example.com', password: 'correct horse battery' });
    await auth.close();
    expect(await rows(real, "SELECT username FROM authlib.users WHERE username = 'linked'")).toEqual([{ username: 'linked' }]);
  }, 120_000);

  it('an existing database: a staging directory left by a start cut short after PG_VERSION is removed, nothing else (the database least of all)', async () => {
    const dir = freshDir();
    await startLines(`pglite://${dir}`);
    // All moved in, PG_VERSION last: the list names everything, the staging directory holds only the list.
    mkdirSync(join(dir, '.authlib-cluster-Qw34er'));
    writeFileSync(join(dir, '.authlib-cluster-Qw34er', '.authlib-moving'), readdirSync(dir).join('\n'));
    writeFileSync(join(dir, '.authlib-cluster-files'), 'the app');
    writeFileSync(join(dir, 'mine.txt'), 'the app');
    await startLines(`pglite://${dir}`);
    expect(readdirSync(dir).filter((name) => name.startsWith('.authlib-cluster-'))).toEqual(['.authlib-cluster-files']);
    expect(readFileSync(join(dir, 'mine.txt'), 'utf8')).toBe('the app');
    const migrations = readdirSync(fileURLToPath(new URL('../sql/', import.meta.url))).filter((f) => /^\d{4}_.+\.sql$/.test(f));
    expect(await rows(dir, 'SELECT count(*)::int AS n FROM authlib.authlib_migrations')).toEqual([{ n: migrations.length }]);
  }, 120_000);

  it("a cluster made by another PGlite of the same release line is used; another line's is not", async () => {
    const installed = JSON.parse(readFileSync(fileURLToPath(new URL('../node_modules/@electric-sql/pglite/package.json', import.meta.url)), 'utf8')) as {
      version: string;
    };
    const [major, minor] = installed.version.split('.');
    const built = readdirSync(fileURLToPath(new URL('../dist/', import.meta.url))).find((f) => f.startsWith(`pglite-template-${installed.version}-`))!;
    const folder = mkdtempSync(join(root, 'line-'));
    const laterPatch = join(folder, `pglite-template-${major}.${minor}.999-authlib.tar.br`);
    copyFileSync(fileURLToPath(new URL(`../dist/${built}`, import.meta.url)), laterPatch);
    expect(await pgliteTemplate(undefined, [folder])).toMatchObject({ schema: 'authlib' });
    // A database from it: already migrated.
    const dir = freshDir();
    const { pglite, release } = await openPGlite(dir, 'authlib', undefined, () => pgliteTemplate(undefined, [folder]));
    try {
      expect((await pglite.query<{ n: number }>('SELECT count(*)::int AS n FROM authlib.authlib_migrations')).rows[0]!.n).toBeGreaterThan(0);
    } finally {
      await pglite.close();
      await release();
    }
    // The next minor of a 0.x PGlite (or the next major) may keep its catalog differently: not used, and the debug log says why.
    const nextLine = major === '0' ? `0.${Number(minor) + 1}.0` : `${Number(major) + 1}.0.0`;
    renameSync(laterPatch, join(folder, `pglite-template-${nextLine}-authlib.tar.br`));
    const debug: string[] = [];
    const logger = { info() {}, warn() {}, error() {}, debug: (_o: object, msg?: string) => debug.push(msg ?? '') };
    expect(await pgliteTemplate(logger, [folder])).toBeUndefined();
    expect(debug).toEqual(['express-authlib: no pre-built cluster for this PGlite release line; running initdb and the migrations']);
  }, 120_000);

  it('another dbSchema: the schema of the template is dropped and the migrations run into the one asked for', async () => {
    const dir = freshDir();
    const lines = await startLines(`pglite://${dir}`, 'mine');
    expect(lines[0]).toMatch(/^express-authlib: applying \d+ pending migration\(s\) to schema "mine"/);
    const schemas = await rows(dir, "SELECT nspname FROM pg_namespace WHERE nspname IN ('authlib', 'mine') ORDER BY 1");
    expect(schemas).toEqual([{ nspname: 'mine' }]);
  }, 120_000);

  it.each(['a directory', 'memory'])(
    'a cluster that does not start is set aside: initdb runs instead, with one warning (%s)',
    async (where) => {
      const dir = where === 'memory' ? 'memory' : freshDir();
      const warnings: string[] = [];
      const logger = { info() {}, error() {}, debug() {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? '') };
      // A cluster of one file PostgreSQL cannot start from.
      let disposed = 0;
      const broken = async (): Promise<PGliteTemplate> => ({
        schema: 'authlib',
        unpackInto: async (into) => {
          writeFileSync(join(into, 'PG_VERSION'), 'not a version\n');
          return ['PG_VERSION'];
        },
        asTar: async () => {
          const file = join(mkdtempSync(join(tmpdir(), 'broken-cluster-')), 'cluster.tar');
          writeFileSync(file, tarOf('PG_VERSION', 'not a version\n'));
          return { file, dispose: async () => void (disposed += 1) };
        },
      });
      const { pglite, release } = await openPGlite(dir, 'authlib', logger, broken);
      try {
        expect((await pglite.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      } finally {
        await pglite.close();
        await release();
      }
      expect(warnings).toEqual(['express-authlib: the pre-built embedded database did not start; running initdb']);
      if (dir === 'memory') {
        expect(disposed).toBe(1);
        return;
      }
      expect(readdirSync(dir)).not.toContain(LOCK_FILE);
      expect(readdirSync(dir)).toContain('PG_VERSION');
      expect(readFileSync(join(dir, 'PG_VERSION'), 'utf8')).toMatch(/^\d+\n$/);
    },
    120_000,
  );
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

describe.skipIf(TEST_DSN)('the WAL of an embedded database', () => {
  const setting = async (db: Kysely<unknown>, name: string) =>
    (await sql<{ value: string }>`SELECT current_setting(${name}) AS value`.execute(db)).rows[0]!.value;

  it('a new directory has 1 MB WAL segments, from the pre-built cluster and from initdb alike', async () => {
    const fromTemplate = freshDir();
    await startLines(`pglite://${fromTemplate}`);
    // No cluster to start from (a broken one): PGlite runs initdb, with the library's arguments.
    const fromInitdb = freshDir();
    const { pglite, release } = await openPGlite(fromInitdb, 'authlib', undefined, async () => undefined);
    await pglite.close();
    await release();
    for (const dir of [fromTemplate, fromInitdb]) {
      expect(await rows(dir, "SELECT current_setting('wal_segment_size') AS size"), dir).toEqual([{ size: '1MB' }]);
    }
  });

  it('in memory: 1 MB segments, a checkpoint every 16 MB of WAL, 2 MB kept for reuse (the files are the process memory)', async () => {
    const conn = await connect({ dbDsn: 'pglite://memory' }, 'authlib');
    try {
      expect({
        segment: await setting(conn.root, 'wal_segment_size'),
        max: await setting(conn.root, 'max_wal_size'),
        min: await setting(conn.root, 'min_wal_size'),
      }).toEqual({ segment: '1MB', max: '16MB', min: '2MB' });
    } finally {
      await conn.close();
    }
  });

  it('a directory an earlier release made, with 16 MB segments, still opens and works', async () => {
    const dir = freshDir();
    const earlier = new PGlite(dir, { extensions: { pg_trgm } }); // initdb's own default segment size
    expect((await earlier.query("SELECT current_setting('wal_segment_size') AS size")).rows).toEqual([{ size: '16MB' }]);
    await earlier.close();
    const auth = new AuthManager(null, { dbDsn: `pglite://${dir}`, jwtSecret: 't'.repeat(32), logger: false });
    try {
      await auth.ready;
      const user = await auth.users.create({ username: 'earlier_user', password: 'correct horse battery staple' });
      expect((await auth.users.findById(user.id))?.username).toBe('earlier_user');
    } finally {
      await auth.close();
    }
  });
});

describe.skipIf(TEST_DSN)("an app's own PGlite without the extension the schema needs", () => {
  // The outside review: every write failed (the admin search's index needs pg_trgm) and each
  // rejection was PGlite's own error, carrying the statement and its parameters, the password hash
  // among them, into whatever the app logs.
  // The second outside review: a duplicate's 409 kept PGlite's error as its cause, statement and
  // parameters (the new account's password hash) included; a check the app added to the table
  // failed with a detail quoting the whole row, hash included. PostgreSQL's errors quote rows too.
  it("a 409 and a failing row's error say nothing of the row: no statement, parameters or detail, in the cause neither", async () => {
    const dir = freshDir();
    await startLines(`pglite://${dir}`);
    const own = new PGlite(dir, { extensions: { pg_trgm } });
    const auth = new AuthManager(null, { db: own, jwtSecret: 't'.repeat(32), logger: false, bcryptRounds: 4 });
    try {
      await auth.ready;
      await auth.users.create({ username: 'alice', email: 'alice@example.com', password: 'correct horse battery staple' });
      await own.exec(`ALTER TABLE authlib.users ADD CONSTRAINT app_check CHECK (username_key <> 'victim')`);
      const errors: unknown[] = [];
      for (const input of [
        { username: 'Alice', email: 'other@example.com', password: 'a secret passphrase 1' },
        { username: 'victim', email: 'victim@example.com', password: 'a secret passphrase 2' },
      ]) {
        await auth.users.create(input).then(
          () => expect.fail(`${input.username} should be refused`),
          (err: unknown) => errors.push(err),
        );
      }
      expect((errors[0] as { code?: string }).code).toBe('conflict');
      for (const err of errors) {
        const seen = inspect(err, { depth: 10 });
        expect(seen).not.toMatch(/\$2[aby]?\$|authlib-hmac|secret passphrase|Failing row|insert into/i);
      }
    } finally {
      await auth.close();
      await own.close();
    }
  });

  it('start-up fails with one message naming the fix; a write is refused with 503; no statement or hash in either', async () => {
    const dir = freshDir();
    await startLines(`pglite://${dir}`);
    const own = new PGlite(dir); // no pg_trgm
    const auth = new AuthManager(null, { db: own, jwtSecret: 't'.repeat(32), logger: false, bcryptRounds: 4 });
    try {
      // Before, ready passed and every write to users then failed with PGlite's own error.
      const failed = await auth.ready.then(
        () => expect.fail('ready should fail without pg_trgm'),
        (err: unknown) => err,
      );
      let caught: unknown;
      await auth.users.create({ username: 'no_trgm', password: 'correct horse battery staple' }).catch((err: unknown) => {
        caught = err;
      });
      expect(failed).toBeInstanceOf(ServiceUnavailableError);
      expect(failed).toMatchObject({ status: 503, code: 'database_error' });
      expect((failed as Error).message).toContain('new PGlite({ extensions: { pg_trgm } })');
      // Calls meanwhile get the 503 of a database that did not start, as for any failed start.
      expect(caught).toBeInstanceOf(ServiceUnavailableError);
      for (const err of [failed, caught]) {
        const seen = `${JSON.stringify(err)} ${inspect(err, { depth: 5 })}`;
        expect(seen).not.toMatch(/\$2[aby]?\$|authlib-hmac|correct horse|insert into/i);
      }
      // Nothing was written.
      expect((await own.query(`SELECT count(*)::int AS n FROM authlib.users`)).rows).toEqual([{ n: 0 }]);
    } finally {
      await auth.close();
      await own.close();
    }
  });
});
