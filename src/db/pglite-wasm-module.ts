import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PGLITE_PACKAGE } from './load-pglite.js';

/** V8's WebAssembly API: Node 20's type declarations describe its types but not the global itself. */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } }).WebAssembly;

let compiling: Promise<WebAssembly.Module | undefined> | undefined;

/**
 * PGlite's WebAssembly (pglite.wasm, 8.7 MB), compiled once per process and handed to every
 * embedded database's thread. PGlite keeps its compiled module per thread, so each new thread
 * compiled it anew, and V8 then optimised its busy functions anew too: about 1 s of CPU at every
 * start of an embedded database. A compiled module shared between threads shares its machine
 * code, optimised parts included.
 *
 * Resolves to undefined when the file cannot be read or compiled: the thread then loads PGlite's
 * own as before, and says what is wrong (a missing package, say) as before.
 */
export function pgliteWasmModule(): Promise<WebAssembly.Module | undefined> {
  return (compiling ??= compile());
}

async function compile(): Promise<WebAssembly.Module | undefined> {
  try {
    // The folder PGlite's own entry loads it from: the package the embedded thread imports.
    const folder = dirname(createRequire(import.meta.url).resolve(PGLITE_PACKAGE));
    return await wasm.compile(await readFile(join(folder, 'pglite.wasm')));
  } catch {
    return undefined;
  }
}
