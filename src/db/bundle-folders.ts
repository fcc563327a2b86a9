import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the build's own files (the pre-built cluster, the embedded database's thread) are looked
 * for: this module's folder and the two above it, each with its dist/. From the package, the first
 * is dist/ itself; from the sources (src/db/), the last is the repository's dist/.
 */
export function bundleFolders(): string[] {
  const folders: string[] = [];
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++) {
    folders.push(dir, join(dir, 'dist'));
    dir = dirname(dir);
  }
  return folders;
}
