// The package as a user meets it: packed from the repository and installed into a project of its
// own, beside what the documentation's examples import. The project is kept between runs (while it
// has every dependency asked for), and only the package is replaced: seconds, not an install.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

/** Always installed: what the contexts and most examples import, and Node's types. */
const BASE_DEPENDENCIES = ['express', '@types/express', '@types/node', '@electric-sql/pglite'];

/** The package a bare import specifier names: `openid-client/passport` -> `openid-client`. */
function packageOf(specifier: string): string | undefined {
  if (/^(\.|\/|node:|[a-z]+:)/.test(specifier) || builtinModules.includes(specifier.split('/')[0]!)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Its DefinitelyTyped package: `@types/passport-oauth2`, `@types/scope__name`. */
function typesOf(name: string): string {
  return `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;
}

/**
 * What the examples import (and the @types of each, where there are some), at the versions this
 * repository installs, so that npm's cache serves them: `name@version`, sorted. A package the
 * repository does not have is left out; the type-check then says it cannot be found, at its line.
 */
export function exampleDependencies(repo: string, sources: string[]): string[] {
  const names = new Set(BASE_DEPENDENCIES);
  const imports = /\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]/g;
  for (const source of sources) {
    for (const m of source.matchAll(imports)) {
      const name = packageOf(m[1] ?? m[2] ?? m[3]!);
      if (!name || name === 'express-authlib') continue;
      names.add(name);
      names.add(typesOf(name));
    }
  }
  const installed = (name: string) => join(repo, 'node_modules', name, 'package.json');
  return [...names]
    .filter((name) => existsSync(installed(name)))
    .map((name) => `${name}@${readJson<{ version: string }>(installed(name)).version}`)
    .sort();
}

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
 * A consumer project with the freshly packed package and `deps` installed; its directory (one per
 * checkout). Holds a lock on the project until the process exits (two checks at once wait in turn).
 */
export function prepareConsumer(repo: string, deps: string[], log: (line: string) => void): string {
  const pkg = readJson<{ dependencies?: object; peerDependencies?: object }>(join(repo, 'package.json'));
  const base = JSON.stringify([pkg.dependencies, pkg.peerDependencies, process.version]);
  const dir = join(tmpdir(), `express-authlib-docs-check-${createHash('sha256').update(repo).digest('hex').slice(0, 12)}`);
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

  // What the project was installed with: if it has every dependency asked for, only the package is
  // new; else everything is installed again, with what it had (another checkout's examples).
  const stampPath = join(dir, 'node_modules', '.docs-check-installed.json');
  const stamp = existsSync(stampPath) ? readJson<{ base: string; deps: string[] }>(stampPath) : undefined;
  if (stamp?.base !== base || !deps.every((dep) => stamp.deps.includes(dep))) {
    const nameOf = (spec: string) => spec.slice(0, spec.lastIndexOf('@'));
    const kept = stamp?.base === base ? stamp.deps.filter((old) => !deps.some((dep) => nameOf(dep) === nameOf(old))) : [];
    const all = [...kept, ...deps].sort();
    log(`installing the packed package and ${all.length} example dependencies into ${dir}`);
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
    rmSync(join(dir, 'package-lock.json'), { force: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'docs-check-consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, ...all], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 300_000,
    });
    writeFileSync(stampPath, JSON.stringify({ base, deps: all }));
  } else {
    const target = join(dir, 'node_modules', 'express-authlib');
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], { stdio: 'inherit' });
  }
  return dir;
}

/** A lock directory holding the owner's pid; one whose owner is gone (killed) is taken over. */
function lock(path: string): void {
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), String(process.pid));
      process.on('exit', () => rmSync(path, { recursive: true, force: true }));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = 0;
      try {
        owner = Number(readFileSync(join(path, 'pid'), 'utf8'));
      } catch {
        // being taken or released right now
      }
      if (owner && !alive(owner)) rmSync(path, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${path}: another docs check (pid ${owner}) holds this lock`, { cause: err });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
