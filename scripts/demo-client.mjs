// `npm start` (prestart): the demo page loads express-authlib/client from dist/client.js, as the
// package ships it. Builds the package when that file is missing or older than the client's
// sources, so `npm start` works on a fresh checkout; otherwise does nothing.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = `${root}dist/client.js`;
const sources = readdirSync(`${root}src/client`, { recursive: true })
  .filter((name) => String(name).endsWith('.ts'))
  .map((name) => `${root}src/client/${String(name)}`);

const mtime = (file) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
};

const builtAt = mtime(built);
if (builtAt < 0 || sources.some((file) => mtime(file) > builtAt)) {
  console.log('Building the package for the demo page (dist/client.js is missing or older than src/client) ...');
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
