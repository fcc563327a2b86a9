import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_DSN, uniqueSchema } from './helpers/database.js';

// What an instance brings into the app's process besides itself. Every module it loads stays in the
// live heap, which V8 marks again on each major collection, so the app's own routes pay for it on
// every request. Checked in a plain Node process on the built package, as an app runs it.
const run = promisify(execFile);
const ENTRY = join(process.cwd(), 'dist', 'index.js');

/** Starts an instance on `dsn` in a fresh process; what that process then holds. */
async function footprint(dsn: string): Promise<{ internals: string[]; packages: string[]; navigator: string; heapMB: number }> {
  const script = `
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--expose-gc');
    const gc = (await import('node:vm')).runInNewContext('gc');
    const live = () => { for (let i = 0; i < 4; i++) gc(); return v8.getHeapStatistics().used_heap_size; };
    const { AuthManager } = await import(${JSON.stringify(ENTRY)});
    const imported = live();
    const auth = new AuthManager(null, { dbDsn: ${JSON.stringify(dsn)}, dbSchema: ${JSON.stringify(uniqueSchema('fp'))}, jwtSecret: 'x'.repeat(40), logger: false });
    await auth.ready;
    await auth.users.create({ username: 'footprint', email: 'footprint@example.com', password: 'a long enough passphrase' });
    const { createRequire } = await import('node:module');
    const cache = Object.keys(createRequire(import.meta.url).cache ?? {});
    const packages = [...new Set(cache.map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean))];
    const internals = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
    const heapMB = (live() - imported) / 1e6;
    console.log(JSON.stringify({ internals, packages, navigator: typeof globalThis.navigator, heapMB }));
    await auth.close();
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { internals: string[]; packages: string[]; navigator: string; heapMB: number };
}

beforeAll(() => {
  if (!existsSync(ENTRY)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
});

describe('what an instance loads into the app', () => {
  it.runIf(TEST_DSN)(
    'on PostgreSQL: node-postgres, but not Node’s fetch implementation (pg’s Cloudflare check builds a fetch Response on Node 20), nor the common-password package once read',
    async () => {
      const nodeHasNavigator = Number(process.versions.node.split('.')[0]) >= 21;
      const { internals, packages, navigator, heapMB } = await footprint(TEST_DSN!);
      expect(packages).toContain('pg');
      expect(internals).not.toContain('internal/deps/undici/undici');
      expect(internals).not.toContain('http2');
      // The common-password list, read for the registration, is kept as one string: the package's
      // modules (58,000 strings, 3.3 MB) leave the module cache once it is read.
      expect(packages).not.toContain('@zxcvbn-ts/language-common');
      expect(heapMB).toBeLessThan(4.5);
      // On Node 20 the runtime has no navigator, and the library leaves none behind.
      expect(navigator).toBe(nodeHasNavigator ? 'object' : 'undefined');
    },
  );

  it.skipIf(TEST_DSN)(
    'on the embedded database: neither node-postgres nor Node’s fetch implementation nor the common-password package, and PGlite’s state is not in the app’s heap',
    async () => {
      const { internals, packages, heapMB } = await footprint('pglite://memory');
      expect(packages).not.toContain('pg');
      expect(internals).not.toContain('internal/deps/undici/undici');
      expect(internals).toContain('worker_threads');
      // PGlite runs in a thread of its own, with its own heap. On the app's thread it held about
      // 12.5 MB more than the import (its WebAssembly wrappers and file system); in its thread the
      // instance holds about 1.6 MB, less than one on PostgreSQL (about 2 MB, its pool and pg), and
      // the registration adds 0.6 MB (3.9 MB while the common-password package stayed loaded).
      expect(packages).not.toContain('@zxcvbn-ts/language-common');
      expect(heapMB).toBeLessThan(4);
    },
  );
});
