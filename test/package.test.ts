import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DSN } from './helpers/database.js';

// The package as a user meets it: packed, installed from the tarball into a fresh project, and its
// published declarations type-checked by consumer code (ESM and CommonJS, strict, skipLibCheck off).
// The rest of the suite reaches the sources through a path alias, so only this test sees dist/.
// No database is involved, so the PostgreSQL run of the suite skips it.
const run = promisify(execFile);
const ROOT = process.cwd();
const FIXTURES = join(ROOT, 'test', 'fixtures', 'consumer');
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);
const version = (name: string) => (createRequire(join(ROOT, 'package.json'))(`${name}/package.json`) as { version: string }).version;

const dir = mkdtempSync(join(tmpdir(), 'authlib-consumer-'));
let tarball = '';
let packedFiles: string[] = [];
let installLog = '';

beforeAll(async () => {
  if (TEST_DSN) return;
  if (!existsSync(join(ROOT, 'dist', 'index.d.ts'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  // --ignore-scripts: npm test has just built dist/, and a rebuild here would race the CLI tests that run it.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(dir, info!.filename);
  packedFiles = info!.files.map((f) => f.path);

  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  // The versions this repository tests with, so npm's cache (filled by `npm ci`) can serve them.
  const deps = [
    `express@${version('express')}`,
    `@types/express@${version('@types/express')}`,
    `@types/node@${version('@types/node')}`,
    // An app that also uses passport: its types declare req.user too.
    `passport@${version('passport')}`,
    `@types/passport@${version('@types/passport')}`,
  ];
  const installed = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...deps], { cwd: dir, timeout: 240_000 });
  installLog = installed.stdout + installed.stderr;
  const base = JSON.parse(readFileSync(join(FIXTURES, 'tsconfig.json'), 'utf8')) as { compilerOptions: object };
  for (const file of ['app.mts', 'app.cts', 'testing.mts', 'testing.cts', 'client.mts', 'client.cts']) {
    copyFileSync(join(FIXTURES, file), join(dir, file));
    writeFileSync(join(dir, `tsconfig.${file}.json`), JSON.stringify({ ...base, files: [file] }));
  }
  // Beside @types/passport, with the strictest optional-property checking.
  for (const file of ['passport-first.mts', 'passport-last.mts', 'passport.cts']) {
    copyFileSync(join(FIXTURES, file), join(dir, file));
    writeFileSync(
      join(dir, `tsconfig.${file}.json`),
      JSON.stringify({ compilerOptions: { ...base.compilerOptions, exactOptionalPropertyTypes: true }, files: [file] }),
    );
  }
  // The client as browser code: the DOM library and no Node types at all.
  const browser = { ...base.compilerOptions, lib: ['ES2022', 'DOM'], types: [] };
  writeFileSync(join(dir, 'tsconfig.browser.json'), JSON.stringify({ compilerOptions: browser, files: ['client.mts'] }));
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function typecheck(file: string): Promise<string> {
  try {
    await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', `tsconfig.${file}.json`], { cwd: dir, timeout: 120_000 });
    return '';
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message;
  }
}

describe.skipIf(TEST_DSN)('the packed package', () => {
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
    const [esm, cjs] = await Promise.all([typecheck('testing.mts'), typecheck('testing.cts')]);
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
    const [esm, cjs, browser] = await Promise.all([typecheck('client.mts'), typecheck('client.cts'), typecheck('browser')]);
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
