// Prints the size of express-authlib/client as a browser app would ship it: the ESM build,
// bundled and minified by esbuild (which tsup brings), then gzipped. Run after `npm run build`.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const result = await build({
  entryPoints: [new URL('../dist/client.js', import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  write: false,
});
const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 });
console.log(`express-authlib/client: ${code.length} bytes minified, ${gzipped.length} bytes minified + gzipped`);
