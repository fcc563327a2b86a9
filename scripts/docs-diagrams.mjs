// Renders the Mermaid sources of docs/diagrams/*.mmd to SVG files beside them, which the guides
// show as images (they read the same on GitHub and on the site, and the site's build needs neither
// Mermaid nor a network). Run `npm run docs:diagrams` after changing a source, and commit both.
// Uses the mermaid package in Debian's Chromium (/usr/bin/chromium) through playwright-core.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const dir = new URL('../docs/diagrams/', import.meta.url);
const mermaidBundle = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });
try {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><html><body></body></html>');
  await page.addScriptTag({ path: mermaidBundle });
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith('.mmd'))
    .sort()) {
    const source = readFileSync(new URL(name, dir), 'utf8');
    const id = name.replace(/\.mmd$/, '');
    const svg = await page.evaluate(
      async ({ id, source }) => {
        const mermaid = globalThis.mermaid;
        // Plain SVG text labels (no foreignObject HTML), so the file renders as an <img> anywhere.
        mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default', htmlLabels: false, flowchart: { htmlLabels: false } });
        return (await mermaid.render(id, source)).svg;
      },
      { id, source },
    );
    writeFileSync(new URL(`${id}.svg`, dir), `${svg}\n`);
    console.log(`docs/diagrams/${id}.svg: ${svg.length} bytes`);
  }
} finally {
  await browser.close();
}
