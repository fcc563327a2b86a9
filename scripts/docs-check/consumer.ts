// The package as a user meets it: packed from the repository and installed into a project of its
// own, beside what the documentation's examples import. The project is kept between runs (keyed by
// the dependency versions), and only the package is replaced: a refresh takes seconds, not an install.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the examples import besides the package (the repository's own versions, so npm's cache serves them). */
export const EXAMPLE_DEPENDENCIES = [
  'express',
  '@types/express',
  '@types/node',
  '@electric-sql/pglite',
  'connect',
  '@types/connect',
  'cors',
  '@types/cors',
  'supertest',
  '@types/supertest',
  'vitest',
  'openid-client',
  'passport',
  '@types/passport',
  'passport-openidconnect',
  '@types/passport-openidconnect',
  'passport-oauth2',
  '@types/passport-oauth2',
];

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The newest modification time under `path` (a file or a directory). */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** True when dist/ is missing or older than what it is built from. */
export function buildIsStale(repo: string): boolean {
  const built = join(repo, 'dist', 'index.js');
  if (!existsSync(join(repo, 'dist', 'index.d.ts')) || !existsSync(built)) return true;
  const sources = Math.max(...['src', 'cli', 'sql', 'tsup.config.ts'].map((p) => newest(join(repo, p))));
  return sources > statSync(built).mtimeMs;
}

/**
 * A consumer project with the freshly packed package and `EXAMPLE_DEPENDENCIES` installed; its
 * directory. Holds a lock on the project until the process exits (two checks at once wait in turn).
 */
export function prepareConsumer(repo: string, log: (line: string) => void): string {
  const pkg = readJson<{ dependencies?: object; peerDependencies?: object }>(join(repo, 'package.json'));
  const deps = EXAMPLE_DEPENDENCIES.map((name) => `${name}@${readJson<{ version: string }>(join(repo, 'node_modules', name, 'package.json')).version}`);
  const key = createHash('sha256')
    .update(JSON.stringify([deps, pkg.dependencies, pkg.peerDependencies, process.version]))
    .digest('hex')
    .slice(0, 12);
  const dir = join(tmpdir(), `express-authlib-docs-check-${key}`);
  lock(`${dir}.lock`);

  // --ignore-scripts: dist/ is built already (and a rebuild here would race whatever runs it).
  mkdirSync(dir, { recursive: true });
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: repo,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [info] = JSON.parse(packed) as Array<{ filename: string }>;
  const tarball = join(dir, info!.filename);

  const ready = join(dir, 'node_modules', '.docs-check-ready');
  if (!existsSync(ready)) {
    log(`installing the packed package and ${deps.length} example dependencies into ${dir}`);
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
    rmSync(join(dir, 'package-lock.json'), { force: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'docs-check-consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, ...deps], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 300_000,
    });
    writeFileSync(ready, '');
  } else {
    // The same dependencies (the key says so): only the package itself is new.
    const target = join(dir, 'node_modules', 'express-authlib');
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], { stdio: 'inherit' });
  }
  return dir;
}

function lock(path: string): void {
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(path);
      process.on('exit', () => rmSync(path, { recursive: true, force: true }));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock older than the longest check is one a killed run left behind.
      const held = statSync(path, { throwIfNoEntry: false });
      if (!held) continue;
      if (Date.now() - held.mtimeMs > 900_000) rmSync(path, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${path}: another docs check holds this lock`, { cause: err });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
}
