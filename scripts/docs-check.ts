// npm run docs:check: the documentation cannot rot.
//
// Every ```ts block of README.md and docs/**/*.md (but the generated docs/reference/api/ and
// docs/.vitepress/) is type-checked, each as a module of its own, against the PACKED package
// installed into a project of its own (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess),
// all in one TypeScript program. The line just before a fence may say how (blank lines between allowed):
//   (nothing)                        a complete module
//   <!-- check: fragment NAME -->    checked inside docs/.snippets/NAME.ts, where it says /* fragment */
//   <!-- check: run -->              a complete program, also run with tsx: exit 0 within 60 s
//   <!-- check: skip -->             not checked
// Every relative link must name a file of the repository, and every #anchor a heading of the page
// it points to (GitHub's slugs, github-slugger). Problems are printed as file:line: message; exit 1.
//
//   tsx scripts/docs-check.ts [--root DIR] [--no-build]
//     --root DIR    the Markdown to check (README.md, docs/) is under DIR; default: this repository
//     --no-build    use dist/ as it is (by default it is rebuilt when older than src/)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIsStale, exampleDependencies, prepareConsumer } from './docs-check/consumer.js';
import { checkLinks } from './docs-check/links.js';
import { markdownFiles, readMarkdown, type MarkdownFile, type Problem } from './docs-check/markdown.js';
import { readContexts, runBlocks, typecheck } from './docs-check/snippets.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export interface DocsCheckReport {
  files: number;
  blocks: { checked: number; fragments: number; skipped: number; ran: number };
  links: number;
  problems: Problem[];
  seconds: number;
  timings: string[];
}

export async function docsCheck(root: string, { build = true, log = (line: string) => console.error(line) } = {}): Promise<DocsCheckReport> {
  const started = performance.now();
  if (!existsSync(join(REPO, 'dist', 'index.d.ts'))) {
    if (!build) throw new Error('dist/ is missing: run `npm run build` first');
  }
  if (build && buildIsStale(REPO)) {
    log('docs:check: building the package (dist/ is missing or older than src/)');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const pages = new Map<string, MarkdownFile>(markdownFiles(root).map((file) => [file, readMarkdown(root, file)]));
  const blocks = [...pages.values()].flatMap((page) => page.blocks);
  const problems = [...pages.values()].flatMap((page) => page.problems);
  const links = checkLinks(root, pages);
  problems.push(...links.problems);

  const lap = (since: number) => ((performance.now() - since) / 1000).toFixed(1);
  let at = performance.now();
  const deps = exampleDependencies(REPO, [...blocks.map((b) => b.code), ...readContexts(root).values()]);
  const consumer = prepareConsumer(REPO, deps, log);
  const timings = [`package packed and installed in ${lap(at)} s`];
  at = performance.now();
  const checked = typecheck(REPO, root, consumer, blocks);
  problems.push(...checked.problems);
  timings.push(`type-checked in ${lap(at)} s`);
  at = performance.now();
  const ran = await runBlocks(checked.runnable);
  problems.push(...ran.problems);
  timings.push(`run in ${lap(at)} s`);

  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return {
    files: pages.size,
    blocks: {
      checked: blocks.filter((b) => b.marker.kind !== 'skip').length,
      fragments: blocks.filter((b) => b.marker.kind === 'fragment').length,
      skipped: blocks.filter((b) => b.marker.kind === 'skip').length,
      ran: ran.ran,
    },
    links: links.checked,
    problems,
    seconds: (performance.now() - started) / 1000,
    timings,
  };
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}${p.column ? `:${p.column}` : ''}: ${p.message}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const rootAt = args.indexOf('--root');
  const root = resolve(rootAt === -1 ? REPO : (args[rootAt + 1] ?? '.'));
  const report = await docsCheck(root, { build: !args.includes('--no-build') });
  for (const problem of report.problems) console.log(formatProblem(problem));
  const { blocks } = report;
  console.log(
    `docs:check: ${report.files} Markdown files, ${blocks.checked} TypeScript blocks type-checked (${blocks.fragments} fragments, ${blocks.skipped} skipped), ` +
      `${blocks.ran} run, ${report.links} internal links; ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} in ${report.seconds.toFixed(1)} s (${report.timings.join(', ')})`,
  );
  process.exitCode = report.problems.length ? 1 : 0;
}
