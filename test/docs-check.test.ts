import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markdownFiles } from '../scripts/docs-check/markdown.js';
import { TEST_DSN } from './helpers/database.js';

// `npm run docs:check` as CI runs it: the TypeScript blocks of README.md and docs/ type-checked
// against the packed package (and those marked run, run), every internal link and #anchor resolved.
// On the documentation as it is, it passes; on a copy with a wrong option name, a broken link and a
// broken anchor (and more), it fails and names each by file:line. Nothing here needs a database:
// once, on the PGlite run.
const run = promisify(execFile);
const ROOT = process.cwd();
const copy = mkdtempSync(join(tmpdir(), 'authlib-docs-check-'));

const RUN_MARKER = '<!-- check: run -->';

async function docsCheck(root: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const tsx = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const args = [tsx, join(ROOT, 'scripts', 'docs-check.ts'), '--no-build', '--root', root];
  return run(process.execPath, args, { cwd: ROOT, timeout: 280_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.d.ts'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe.skipIf(TEST_DSN)('npm run docs:check', () => {
  it('passes on the documentation as it is: every TypeScript block compiles against the packed package, every link resolves', async () => {
    const { code, stdout, stderr } = await docsCheck(ROOT);
    expect(code, stdout + stderr).toBe(0);
    const summary = /(\d+) Markdown files, (\d+) TypeScript blocks type-checked .* 0 problems in ([\d.]+) s/.exec(stdout);
    expect(summary, stdout).not.toBeNull();
    expect(Number(summary![2])).toBeGreaterThan(0);
  }, 300_000);

  it('fails on a wrong option name, a broken link, a broken anchor, a failing program and a bad marker, naming each by file:line', async () => {
    // The Markdown copied, the rest of the repository linked (links to ../examples/... still resolve).
    for (const entry of readdirSync(ROOT)) {
      if (entry === 'README.md' || entry === 'docs' || entry === 'node_modules' || entry === '.git') continue;
      symlinkSync(join(ROOT, entry), join(copy, entry));
    }
    cpSync(join(ROOT, 'README.md'), join(copy, 'README.md'));
    cpSync(join(ROOT, 'docs'), join(copy, 'docs'), { recursive: true });
    mkdirSync(join(copy, 'docs', 'guide'), { recursive: true });
    // The documentation's own run blocks ran in the test above; here they stay plain modules
    // (type-checked as before), so the copy runs only the broken page's two.
    for (const file of markdownFiles(copy).map((path) => join(copy, path))) {
      const text = readFileSync(file, 'utf8');
      if (text.includes(RUN_MARKER)) writeFileSync(file, text.replaceAll(`${RUN_MARKER}\n`, ''));
    }

    const page = [
      '# A broken page', //                                                          1
      '',
      'The [examples](../../examples/basic/) and the [quick start](../../README.md#quick-start) exist,',
      'but [this page](./no-such-page.md) does not, nor does [this heading](../../README.md#no-such-heading).', // 4
      '',
      '```ts', //                                                                     6
      "import { AuthManager } from 'express-authlib';",
      '',
      "const auth = new AuthManager(null, { dbDns: 'pglite://memory', jwtSecret: 'x'.repeat(32) });", // 9
      'await auth.close();',
      '```',
      '',
      '<!-- check: fragment app -->',
      '```ts', //                                                                     14
      "app.get('/me', auth.requireAuthh(), (_req, res) => {",
      '  res.end();',
      '});',
      '```',
      '',
      '<!-- check: run -->',
      '```ts', //                                                                     21
      "import { AuthManager } from 'express-authlib';",
      '',
      "const auth = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(32) });",
      'await auth.ready;',
      'await auth.close();',
      'process.exitCode = 3;',
      '```',
      '',
      '<!-- check: run -->',
      '```ts', //                                                                     31
      "import { AuthManager } from 'express-authlib';",
      '',
      "const auth = new AuthManager(null, { dbDsn: 'pglite://memory', jwtSecret: 'x'.repeat(32) });",
      'const users = await auth.users.list({ limit: 1 });',
      'console.log(users.total);',
      'await auth.close();',
      '```',
      '',
      '<!-- check: fragment nowhere -->',
      '```ts', //                                                                     41
      'console.log(1);',
      '```',
      '',
      '<!-- check: fragmnet app -->', //                                              45
      '```ts',
      'console.log(2);',
      '```',
      '',
      '## Its `last` heading',
      '',
      'Back to [the top](#a-broken-page), [the last heading](#its-last-heading), [nowhere](#its-lost-heading).', // 52
      '',
    ];
    writeFileSync(join(copy, 'docs', 'guide', 'broken-example.md'), page.join('\n'));
    // README.md's own line numbers: two lines at its end.
    const readmeLines = readFileSync(join(copy, 'README.md'), 'utf8').split('\n').length;
    appendFileSync(join(copy, 'README.md'), '\nSee [the guide](docs/guide/missing.md) and [its top](docs/guide/broken-example.md#a-broken-page).\n');
    const readmeLink = readmeLines + 1;

    const { code, stdout, stderr } = await docsCheck(copy);
    expect(code, stdout + stderr).toBe(1);
    const problems = stdout.split('\n').filter((line) => /^\S+\.(md|ts):\d+/.test(line));
    const at = (file: string, line: number, text: RegExp) =>
      expect(
        problems.some((p) => p.startsWith(`${file}:${line}:`) && text.test(p)),
        `${file}:${line} ${text}\n${stdout}`,
      ).toBe(true);
    const page_ = 'docs/guide/broken-example.md';
    at(page_, 4, /no-such-page\.md.*does not exist/);
    at(page_, 4, /no heading #no-such-heading in README\.md/);
    at(page_, 9, /TS2561.*'dbDns' does not exist in type 'AuthManagerOptions'/);
    at(page_, 15, /TS2551.*'requireAuthh' does not exist/);
    at(page_, 21, /run: exited with 3/);
    at(page_, 41, /no context docs\/\.snippets\/nowhere\.ts \(contexts: app, auth, client, req\)/);
    at(page_, 45, /unknown marker <!-- check: fragmnet app -->/);
    at(page_, 52, /no heading #its-lost-heading in this page/);
    at('README.md', readmeLink, /docs\/guide\/missing\.md does not exist/);
    // Nothing else: the good links, the good run and the rest of the documentation pass.
    expect(problems, stdout).toHaveLength(9);
    // Its two run blocks, and only those.
    const ran = Number(/(\d+) run, \d+ internal links; 9 problems/.exec(stdout)?.[1]);
    expect(ran).toBe(2);
  }, 300_000);
});
