import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DSN, dropSchema, uniqueSchema } from './helpers/database.js';

// The package as a user meets it: packed, installed from the tarball into a fresh project, and its
// published declarations type-checked by consumer code (ESM and CommonJS, strict, skipLibCheck off).
// The rest of the suite reaches the sources through a path alias, so only this test sees dist/.
// Two consumers: one that adds PGlite as the README says (the PGlite run; no database of its own
// otherwise), and one without it, as an app on PostgreSQL installs the package (both runs: its app
// runs on the PostgreSQL run's database).
const run = promisify(execFile);
const ROOT = process.cwd();
const FIXTURES = join(ROOT, 'test', 'fixtures', 'consumer');
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);
// Read from disk: not every package lets `<name>/package.json` through its `exports`.
const version = (name: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

const packDir = mkdtempSync(join(tmpdir(), 'authlib-pack-'));
const dir = join(packDir, 'consumer');
const bare = join(packDir, 'consumer-without-pglite');
let tarball = '';
let packedFiles: string[] = [];
let installLog = '';

/** A fresh project with the tarball and `deps` installed (the versions this repository tests with, so npm's cache can serve them). */
async function installConsumer(where: string, deps: string[]): Promise<string> {
  mkdirSync(where, { recursive: true });
  writeFileSync(join(where, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  const installed = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...deps], { cwd: where, timeout: 240_000 });
  return installed.stdout + installed.stderr;
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.d.ts'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  // --ignore-scripts: npm test has just built dist/, and a rebuild here would race the CLI tests that run it.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: ROOT });
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(packDir, info!.filename);
  packedFiles = info!.files.map((f) => f.path);
}, 300_000);

afterAll(() => rmSync(packDir, { recursive: true, force: true }));

describe.skipIf(TEST_DSN)('the packed package', () => {
  beforeAll(async () => {
    // PGlite as the README says to add it: the embedded database is an optional peer dependency.
    const deps = [
      `express@${version('express')}`,
      `@types/express@${version('@types/express')}`,
      `@types/node@${version('@types/node')}`,
      `@electric-sql/pglite@${version('@electric-sql/pglite')}`,
      // An app that also uses passport: its types declare req.user too.
      `passport@${version('passport')}`,
      `@types/passport@${version('@types/passport')}`,
    ];
    installLog = await installConsumer(dir, deps);
    // skipDefaultLibCheck: TypeScript's own lib files need no checking (a second of each run);
    // skipLibCheck stays off, so the package's declarations and @types/* beside them are checked.
    const fixture = JSON.parse(readFileSync(join(FIXTURES, 'tsconfig.json'), 'utf8')) as { compilerOptions: object };
    const base = { ...fixture.compilerOptions, skipDefaultLibCheck: true };
    const program = (name: string, files: string[], compilerOptions: object = base) => {
      for (const file of files) copyFileSync(join(FIXTURES, file), join(dir, file));
      writeFileSync(join(dir, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions, files }));
    };
    // Each program costs about 7 s of CPU, mostly @types/node and express's declarations, so files
    // that need the same setting share one: the subpath entries' consumers, which declare no
    // Express.User, together; the apps, which each declare their own, alone.
    program('app.mts', ['app.mts']);
    program('app.cts', ['app.cts']);
    program('entries.mts', ['testing.mts', 'client.mts']);
    program('entries.cts', ['testing.cts', 'client.cts']);
    // Beside @types/passport, with the strictest optional-property checking: the order of the
    // declarations is what is tested, so each alone.
    for (const file of ['passport-first.mts', 'passport-last.mts', 'passport.cts']) program(file, [file], { ...base, exactOptionalPropertyTypes: true });
    // The client as browser code: the DOM library and no Node types at all.
    program('browser', ['client.mts'], { ...base, lib: ['ES2022', 'DOM'], types: [] });
  }, 300_000);

  /** `tsc -p` of one program: '' when it passes, else its errors. Run once, whichever test asks first. */
  const checked = new Map<string, Promise<string>>();
  function typecheck(program: string): Promise<string> {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    if (!checked.has(program)) {
      const result = run(process.execPath, [tsc, '-p', `tsconfig.${program}.json`], { cwd: dir, timeout: 120_000 }).then(
        () => '',
        (err: { stdout?: string; stderr?: string; message: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}` || err.message,
      );
      checked.set(program, result);
    }
    return checked.get(program)!;
  }

  it('ships the build, the migrations, the CLI and the licence, and nothing of the sources', () => {
    for (const f of [
      'LICENSE',
      'README.md',
      'package.json',
      'bin/authlib.js',
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'dist/index.d.cts',
      'dist/client.js',
      'dist/client.cjs',
      'dist/client.d.ts',
      'dist/client.d.cts',
      'dist/cli.js',
      'client/package.json',
      'sql/0001_init.sql',
    ]) {
      expect(packedFiles).toContain(f);
    }
    expect(packedFiles.filter((f) => /^(src|test|cli)\//.test(f))).toEqual([]);
    // The pre-built embedded cluster, for the PGlite version this repository builds with.
    expect(packedFiles).toContain(`dist/pglite-template-${version('@electric-sql/pglite')}-authlib.tar.br`);
  });

  it('installs into a fresh project without install-script warnings', () => {
    expect(installLog).not.toMatch(/install-scripts|prepare|postinstall/i);
  });

  it('type-checks ESM and CommonJS consumer code (strict, skipLibCheck: false), with or without an Express.User of their own', async () => {
    const [esm, cjs] = await Promise.all([typecheck('app.mts'), typecheck('app.cts')]);
    expect(esm, 'ESM consumer').toBe('');
    expect(cjs, 'CommonJS consumer').toBe('');
  }, 240_000);

  it('type-checks beside @types/passport with exactOptionalPropertyTypes, whichever declarations come first', async () => {
    const [first, last, cjs] = await Promise.all([typecheck('passport-first.mts'), typecheck('passport-last.mts'), typecheck('passport.cts')]);
    expect(first, 'passport first').toBe('');
    expect(last, 'the library first').toBe('');
    expect(cjs, 'CommonJS').toBe('');
  }, 240_000);

  it('ships express-authlib/testing in ESM and CommonJS, with declarations for both', async () => {
    for (const f of ['dist/testing.js', 'dist/testing.cjs', 'dist/testing.d.ts', 'dist/testing.d.cts']) expect(packedFiles).toContain(f);
    const [esm, cjs] = await Promise.all([typecheck('entries.mts'), typecheck('entries.cts')]);
    expect(esm, 'ESM consumer of express-authlib/testing').toBe('');
    expect(cjs, 'CommonJS consumer of express-authlib/testing').toBe('');
  }, 240_000);

  it('express-authlib/testing runs from the installed package, from ESM and CommonJS: one AuthManager class with the main entry', async () => {
    // Plain JavaScript, run by node from the consumer project: resolution through the tarball's `exports`.
    const script = (load: string) => `${load}
(async () => {
  const auth = await createTestAuth(null);
  const { token, user } = await auth.loginAs({ roles: ['admin'] });
  const ctx = await auth.verifyToken(token);
  await auth.reset();
  const after = await auth.guard(token);
  await auth.close();
  console.log(JSON.stringify({ manager: auth instanceof AuthManager, roles: ctx.roles, same: ctx.user.id === user.id, after: after.error && after.error.code }));
})();
`;
    writeFileSync(
      join(dir, 'run-testing.mjs'),
      script("import { AuthManager } from 'express-authlib';\nimport { createTestAuth } from 'express-authlib/testing';"),
    );
    writeFileSync(
      join(dir, 'run-testing.cjs'),
      script("const { AuthManager } = require('express-authlib');\nconst { createTestAuth } = require('express-authlib/testing');"),
    );
    const expected = { manager: true, roles: ['admin'], same: true, after: 'invalid_token' };
    for (const file of ['run-testing.mjs', 'run-testing.cjs']) {
      const { stdout } = await run(process.execPath, [file], { cwd: dir, timeout: 120_000 });
      expect(JSON.parse(stdout.trim()), file).toEqual(expected);
    }
  }, 300_000);

  it('express-authlib/client resolves from ESM and CommonJS, type-checks for Node and for the browser, and imports nothing of Node', async () => {
    const [esm, cjs, browser] = await Promise.all([typecheck('entries.mts'), typecheck('entries.cts'), typecheck('browser')]);
    expect(esm, 'ESM consumer').toBe('');
    expect(cjs, 'CommonJS consumer').toBe('');
    expect(browser, 'browser consumer').toBe('');
    const probe = "typeof m.createAuthClient + ' ' + typeof m.AuthClientError + ' ' + typeof m.memoryStorage";
    const imported = await run(process.execPath, ['--input-type=module', '-e', `const m = await import('express-authlib/client'); console.log(${probe})`], {
      cwd: dir,
    });
    expect(imported.stdout.trim()).toBe('function function function');
    const required = await run(process.execPath, ['-e', `const m = require('express-authlib/client'); console.log(${probe})`], { cwd: dir });
    expect(required.stdout.trim()).toBe('function function function');
    for (const file of ['client.js', 'client.cjs']) {
      const code = readFileSync(join(dir, 'node_modules', 'express-authlib', 'dist', file), 'utf8');
      expect(code, file).not.toMatch(/(from\s*|require\(|import\()["']node:/);
      expect(code, file).not.toMatch(
        /(from\s*|require\(|import\()["'](fs|path|crypto|http|https|url|util|buffer|stream|os|zlib|events|module|child_process)["']/,
      );
      expect(code, file).not.toMatch(/\b(Buffer|process)\./);
    }
  }, 240_000);

  it('is clean for @arethetypeswrong/cli and publint', async () => {
    const attw = await run(bin('attw'), [tarball, '--format', 'ascii'], { cwd: dir }).catch((err: { stdout: string }) => ({ stdout: `FAILED\n${err.stdout}` }));
    expect(attw.stdout).toMatch(/No problems found/);
    const publint = await run(bin('publint'), ['run', tarball, '--strict', '--level', 'suggestion'], { cwd: dir });
    expect(publint.stdout).toMatch(/All good/);
  }, 120_000);
});

describe('the packed package without PGlite (an app on PostgreSQL)', () => {
  let log = '';
  const schema = uniqueSchema('nopglite');

  beforeAll(async () => {
    log = await installConsumer(bare, [`express@${version('express')}`]);
  }, 300_000);
  afterAll(async () => {
    if (TEST_DSN) await dropSchema(schema);
  });

  it('installs without the embedded database: it is an optional peer dependency, not installed unless the app adds it', () => {
    expect(log).not.toMatch(/install-scripts|prepare|postinstall|ERESOLVE/i);
    expect(existsSync(join(bare, 'node_modules', 'express-authlib', 'package.json'))).toBe(true);
    expect(existsSync(join(bare, 'node_modules', '@electric-sql', 'pglite'))).toBe(false);
  });

  it('a pglite:// DSN: ready rejects with a TypeError naming the install command, said on stderr, and the process ends by itself', async () => {
    writeFileSync(
      join(bare, 'pglite-missing.mjs'),
      `import { AuthManager } from 'express-authlib';
const auth = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'p'.repeat(32) });
const err = await auth.ready.then(() => undefined, (e) => e);
await auth.close();
console.log(JSON.stringify({ typeError: err instanceof TypeError, name: err?.name, message: err?.message }));
`,
    );
    const { stdout, stderr } = await run(process.execPath, ['pglite-missing.mjs'], { cwd: bare, timeout: 60_000 });
    const result = JSON.parse(stdout.trim()) as { typeError: boolean; name: string; message: string };
    expect(result.typeError).toBe(true);
    expect(result.message).toContain('`npm install @electric-sql/pglite`');
    expect(stderr.trim().split('\n')).toEqual([expect.stringContaining('start-up failed: express-authlib: pglite://memory needs')]);
    expect(stderr).toContain('npm install @electric-sql/pglite');

    // The CLI: exit 1 and one line naming the command.
    const cli = await run(process.execPath, [join('node_modules', 'express-authlib', 'bin', 'authlib.js'), 'db', 'status', '--dsn', 'pglite://memory'], {
      cwd: bare,
      timeout: 60_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(cli.code).toBe(1);
    expect(cli.stderr.trim().split('\n')).toEqual([expect.stringContaining('`npm install @electric-sql/pglite`')]);
  }, 120_000);

  it('express-authlib/testing (CommonJS): createTestAuth rejects naming the dev install command', async () => {
    writeFileSync(
      join(bare, 'testing-missing.cjs'),
      `const { createTestAuth } = require('express-authlib/testing');
createTestAuth(null).then(
  () => console.log(JSON.stringify({ started: true })),
  (err) => console.log(JSON.stringify({ typeError: err instanceof TypeError, message: err.message })),
);
`,
    );
    const { stdout } = await run(process.execPath, ['testing-missing.cjs'], { cwd: bare, timeout: 60_000 });
    const result = JSON.parse(stdout.trim()) as { typeError: boolean; message: string };
    expect(result.typeError).toBe(true);
    expect(result.message).toContain('`npm install --save-dev @electric-sql/pglite`');
  }, 120_000);

  it.skipIf(!TEST_DSN)(
    'an Express app on PostgreSQL: register, login and a protected route, from ESM and CommonJS, and with its own Kysely instance',
    async () => {
      const script = (load: string) => `${load}
(async () => {
  const app = express();
  // The app's own Kysely instance (kysely and pg come with the package) meets the library's bundled copy of kysely.
  const pool = process.env.OWN_KYSELY ? new pg.Pool({ connectionString: process.env.DSN }) : undefined;
  const database = pool ? { db: new Kysely({ dialect: new PostgresDialect({ pool }) }) } : { dbDsn: process.env.DSN };
  const auth = new AuthManager(app, { ...database, dbSchema: process.env.SCHEMA, jwtSecret: 'p'.repeat(32), logger: false });
  app.get('/protected', auth.requireAuth(), (req, res) => res.json({ hello: req.auth.user.username }));
  await auth.ready;
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = 'http://127.0.0.1:' + server.address().port;
  const post = (path, body) =>
    fetch(base + '/api/v1/users' + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const name = process.env.NAME;
  const registered = await post('/register', { username: name, password: 'correct horse battery', email: name + '@example.com' });
  const login = await post('/login', { username: name, password: 'correct horse battery' });
  const { token } = await login.json();
  const guarded = await fetch(base + '/protected', { headers: { authorization: 'Bearer ' + token } });
  const anonymous = await fetch(base + '/protected');
  console.log(JSON.stringify({ registered: registered.status, login: login.status, guarded: await guarded.json(), anonymous: anonymous.status }));
  server.close();
  await auth.close();
  await pool?.end();
})();
`;
      const esm =
        "import express from 'express';\nimport { Kysely, PostgresDialect } from 'kysely';\nimport pg from 'pg';\nimport { AuthManager } from 'express-authlib';";
      const cjs =
        "const express = require('express');\nconst { Kysely, PostgresDialect } = require('kysely');\nconst pg = require('pg');\nconst { AuthManager } = require('express-authlib');";
      writeFileSync(join(bare, 'pg-app.mjs'), script(esm));
      writeFileSync(join(bare, 'pg-app.cjs'), script(cjs));
      for (const [file, name, own] of [
        ['pg-app.mjs', 'esm_user', ''],
        ['pg-app.cjs', 'cjs_user', ''],
        ['pg-app.mjs', 'kysely_user', '1'],
      ] as const) {
        const env = { ...process.env, DSN: TEST_DSN, SCHEMA: schema, NAME: name, OWN_KYSELY: own };
        const { stdout } = await run(process.execPath, [file], { cwd: bare, timeout: 60_000, env });
        expect(JSON.parse(stdout.trim()), `${file} ${name}`).toEqual({ registered: 201, login: 200, guarded: { hello: name }, anonymous: 401 });
      }
    },
    120_000,
  );
});
