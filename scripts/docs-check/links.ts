// Internal links: a relative path must name a file or directory of the repository, and an #anchor
// into a Markdown file must name one of its headings (GitHub's slugs) or HTML ids.
import { existsSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { readMarkdown, type Link, type MarkdownFile, type Problem } from './markdown.js';

/** Generated at site build, so maybe absent from a checkout: links into it are not checked then. */
const GENERATED = 'docs/reference/api/';

export function checkLinks(root: string, pages: Map<string, MarkdownFile>): { checked: number; problems: Problem[] } {
  const problems: Problem[] = [];
  const others = new Map<string, MarkdownFile>();
  const page = (file: string) => {
    let found = pages.get(file) ?? others.get(file);
    if (!found) others.set(file, (found = readMarkdown(root, file)));
    return found;
  };
  let checked = 0;
  for (const { links } of pages.values()) {
    for (const link of links) {
      const problem = checkLink(root, link, page);
      if (problem === null) continue;
      checked++;
      if (problem) problems.push({ file: link.file, line: link.line, message: problem });
    }
  }
  return { checked, problems };
}

/** A problem, '' when the link resolves, null when it is not an internal link. */
function checkLink(root: string, link: Link, page: (file: string) => MarkdownFile): string | null {
  const { target } = link;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return null; // https:, mailto: ...
  const hashAt = target.indexOf('#');
  const rawPath = hashAt === -1 ? target : target.slice(0, hashAt);
  const anchor = hashAt === -1 ? undefined : decode(target.slice(hashAt + 1));
  const path = decode(rawPath.replace(/\?.*$/, ''));
  if (path.startsWith('/')) {
    return `link ${target}: use a relative link (a path from / means the repository root on GitHub and the docs/ root on the site)`;
  }
  const resolved = path === '' ? link.file : posix.normalize(posix.join(posix.dirname(link.file), path));
  if (resolved === '..' || resolved.startsWith('../')) return `link ${target}: leaves the repository`;
  if (path !== '') {
    const full = join(root, resolved);
    if (!existsSync(full)) {
      if (`${resolved}/`.startsWith(GENERATED) && !existsSync(join(root, GENERATED))) return null;
      return `link ${target}: ${resolved} does not exist`;
    }
    if (statSync(full).isDirectory() || !resolved.endsWith('.md')) return ''; // anchors into code (#L12) are GitHub's
  }
  if (anchor === undefined || anchor === '') return '';
  const anchors = page(resolved).anchors;
  if (anchors.has(anchor)) return '';
  const where = path === '' ? 'this page' : resolved;
  const near = [...anchors].filter((a) => a.includes(anchor) || anchor.includes(a)).slice(0, 3);
  return `link ${target}: no heading #${anchor} in ${where}${near.length ? ` (did you mean ${near.map((a) => `#${a}`).join(', ')}?)` : ''}`;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
