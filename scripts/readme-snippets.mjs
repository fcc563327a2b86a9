// Writes every ```ts block of README.md to .readme-snippets/ so that `npm run typecheck` compiles
// them: the README's examples cannot drift from the API. The blocks of docs/ are checked by
// `npm run docs:check`.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const out = new URL('../.readme-snippets/', import.meta.url);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
blocks.forEach((code, i) => writeFileSync(new URL(`snippet-${i + 1}.ts`, out), `${code}\nexport {};\n`));
console.log(`README: ${blocks.length} TypeScript snippets to type-check`);
