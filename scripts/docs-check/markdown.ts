// Reading the Markdown: which files, their TypeScript blocks with the marker before each, their
// headings as GitHub turns them into anchors, and their links. Line numbers are 1-based.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import GithubSlugger from 'github-slugger';

/** Where a problem is: a Markdown file (relative to the root, with /) and a line of it. */
export interface Problem {
  file: string;
  line: number;
  column?: number;
  message: string;
}

export type Marker = { kind: 'module' } | { kind: 'run' } | { kind: 'skip' } | { kind: 'fragment'; name: string };

export interface CodeBlock {
  file: string;
  /** The line of the opening fence. */
  line: number;
  code: string;
  marker: Marker;
}

export interface Link {
  file: string;
  line: number;
  target: string;
}

export interface MarkdownFile {
  file: string;
  blocks: CodeBlock[];
  links: Link[];
  /** Every anchor the file has: heading slugs (deduplicated as GitHub does) and HTML ids. */
  anchors: Set<string>;
  problems: Problem[];
}

/** Generated or built pages that are not written by hand. */
const EXCLUDED = ['docs/reference/api/', 'docs/.vitepress/'];

/** README.md and every docs/**\/*.md but the generated ones, relative to `root` with /. */
export function markdownFiles(root: string): string[] {
  const files = existsSync(join(root, 'README.md')) ? ['README.md'] : [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${dir}/${entry.name}`;
      if (entry.name === 'node_modules' || EXCLUDED.some((x) => `${path}/`.startsWith(x))) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  if (existsSync(join(root, 'docs')) && statSync(join(root, 'docs')).isDirectory()) walk('docs');
  return files;
}

export function toPosix(path: string): string {
  return path.split(sep).join('/');
}

export function relativePosix(root: string, path: string): string {
  return toPosix(relative(root, path));
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`{:[]*)/;
const MARKER = /^\s*<!--\s*check:\s*(.*?)\s*-->\s*$/;
const TS_LANGUAGES = new Set(['ts', 'typescript']);

/** The marker text after `check:`, or a problem. */
function parseMarker(text: string): Marker | string {
  if (text === 'run') return { kind: 'run' };
  if (text === 'skip') return { kind: 'skip' };
  const fragment = /^fragment\s+([\w-]+)$/.exec(text);
  if (fragment) return { kind: 'fragment', name: fragment[1]! };
  return `unknown marker <!-- check: ${text} -->: use "fragment NAME", "run" or "skip"`;
}

/** Which lines are code: inside a fenced block (fences included) or the front matter. */
export function codeLines(text: string): boolean[] {
  const lines = text.split('\n');
  const code = lines.map(() => false);
  // Front matter (VitePress): a YAML block between --- lines at the very top.
  if (lines[0] === '---') {
    const end = lines.indexOf('---', 1);
    if (end > 0) for (let i = 0; i <= end; i++) code[i] = true;
  }
  let fence: { char: string; length: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    if (code[i]) continue;
    const m = /^\s*(`{3,}|~{3,})/.exec(lines[i]!);
    if (fence) {
      if (m && m[1]![0] === fence.char && m[1]!.length >= fence.length && lines[i]!.trim() === m[1]) fence = undefined;
      code[i] = true;
    } else if (m) {
      fence = { char: m[1]![0]!, length: m[1]!.length };
      code[i] = true;
    }
  }
  return code;
}

/**
 * `text` with code blocks, inline code and HTML comments blanked out (newlines kept, so offsets and
 * line numbers stay those of the file): what is left is prose whose links count.
 */
export function prose(text: string): string {
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  const code = codeLines(text);
  return (
    text
      .split('\n')
      .map((line, i) => (code[i] ? blank(line) : line))
      .join('\n')
      .replace(/<!--[\s\S]*?-->/g, blank)
      // Inline code: a run of backticks to the same run, within one paragraph.
      .replace(/(`+)(?:(?!\n\s*\n)[\s\S])*?[^`]\1(?!`)|(`+)[^`\n]\2(?!`)/g, blank)
  );
}

/** The text of a heading as GitHub renders it, before slugging: no Markdown syntax, no tags. */
export function headingText(source: string): string {
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ' };
  return source
    .split(/(`+[^`]*?`+)/)
    .map((part, i) => {
      if (i % 2 === 1) return part.replace(/^`+\s?|\s?`+$/g, '');
      return part
        .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/\[([^\]]*)\]\[[^\]]*\]/g, '$1')
        .replace(/<[^>]+>/g, '')
        .replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, name: string) => entities[name]!)
        .replace(/\\([!-/:-@[-`{-~])/g, '$1')
        .replace(/\*+/g, '')
        .replace(/(^|[^\p{L}\p{N}])_+|_+(?=[^\p{L}\p{N}]|$)/gu, '$1');
    })
    .join('');
}

/** Reads one Markdown file: its TypeScript blocks, links, anchors and marker problems. */
export function readMarkdown(root: string, file: string): MarkdownFile {
  const text = readFileSync(join(root, file), 'utf8').replace(/\r\n?/g, '\n');
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  const problems: Problem[] = [];

  // Code blocks, and the marker on the line just before each (blank lines between are allowed).
  let pending: { marker: Marker; line: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const markerMatch = MARKER.exec(line);
    if (markerMatch) {
      if (pending) problems.push({ file, line: pending.line, message: 'this marker is not followed by a ```ts block' });
      const marker = parseMarker(markerMatch[1]!);
      if (typeof marker === 'string') problems.push({ file, line: i + 1, message: marker });
      else pending = { marker, line: i + 1 };
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const [, indent, run, info] = fence as unknown as [string, string, string, string];
      let end = i + 1;
      while (end < lines.length) {
        const close = /^\s*(`{3,}|~{3,})\s*$/.exec(lines[end]!);
        if (close && close[1]![0] === run[0] && close[1]!.length >= run.length) break;
        end++;
      }
      if (TS_LANGUAGES.has(info.toLowerCase())) {
        const code = lines
          .slice(i + 1, end)
          .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
          .join('\n');
        blocks.push({ file, line: i + 1, code, marker: pending?.marker ?? { kind: 'module' } });
      } else if (pending) {
        problems.push({
          file,
          line: pending.line,
          message: `this marker is before a \`\`\`${info || '(no language)'} block: only \`\`\`ts blocks are checked`,
        });
      }
      pending = undefined;
      i = end;
      continue;
    }
    if (pending && line.trim() !== '') {
      problems.push({ file, line: pending.line, message: 'this marker is not followed by a ```ts block (it must be on the line just before the fence)' });
      pending = undefined;
    }
  }
  if (pending) problems.push({ file, line: pending.line, message: 'this marker is not followed by a ```ts block' });

  const plain = prose(text);
  const lineAt = (offset: number) => plain.slice(0, offset).split('\n').length;

  // Headings: ATX (# Title) and setext (Title over === or ---), in order, slugged as GitHub does.
  const code = codeLines(text);
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    if (code[i]) continue;
    let source: string | undefined;
    if (/^ {0,3}#{1,6}([ \t]|$)/.test(lines[i]!)) source = lines[i]!.replace(/^ {0,3}#{1,6}[ \t]*/, '').replace(/(^|[ \t]+)#+[ \t]*$/, '');
    else if (i > 0 && !code[i - 1] && /^ {0,3}(=+|-+)[ \t]*$/.test(lines[i]!) && /^ {0,3}[^\s\-*+>|#]/.test(lines[i - 1]!)) source = lines[i - 1]!;
    if (source !== undefined) anchors.add(slugger.slug(headingText(source.trim())));
  }
  // Anchors of HTML elements: <a id="x"></a>, <a name="x"></a>.
  for (const m of plain.matchAll(/<[a-z][^>]*?\s(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]!);

  // Links: inline [text](target), images, reference definitions [ref]: target, and HTML href/src.
  const links: Link[] = [];
  for (const m of plain.matchAll(/\]\(\s*(<[^>\n]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) {
    links.push({ file, line: lineAt(m.index), target: m[1]!.replace(/^<|>$/g, '') });
  }
  for (const m of plain.matchAll(/^ {0,3}\[[^\]\n]+\]:[ \t]*(<[^>\n]*>|\S+)/gm)) {
    links.push({ file, line: lineAt(m.index), target: m[1]!.replace(/^<|>$/g, '') });
  }
  for (const m of plain.matchAll(/<(?:a|img)\s[^>]*?\b(?:href|src)\s*=\s*["']([^"']*)["']/gi)) {
    links.push({ file, line: lineAt(m.index), target: m[1]! });
  }
  return { file, blocks, links, anchors, problems };
}
