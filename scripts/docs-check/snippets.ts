// The TypeScript blocks: each one a module in the consumer project (a fragment inside its context
// from docs/.snippets/), all type-checked by one TypeScript program against the installed package,
// and those marked run executed with tsx. Diagnostics point back to the Markdown line.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import type { CodeBlock, Problem } from './markdown.js';

export const CONTEXT_DIR = 'docs/.snippets';
export const FRAGMENT = '/* fragment */';
export const RUN_TIMEOUT_MS = 60_000;

/** A generated module and how its lines map back: a block's line, or a context's. */
interface Module {
  path: string;
  block: CodeBlock | undefined;
  /** For a context checked on its own, or the context part of a fragment's module. */
  context: { file: string; fragmentLine: number; fragmentLines: number; indent: number } | undefined;
}

/** docs/.snippets/NAME.ts by name, read from the Markdown root. */
export function readContexts(root: string): Map<string, string> {
  const dir = join(root, CONTEXT_DIR);
  const contexts = new Map<string, string>();
  if (!existsSync(dir)) return contexts;
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.ts')) contexts.set(name.slice(0, -3), readFileSync(join(dir, name), 'utf8'));
  }
  return contexts;
}

/**
 * The consumer's compiler options: those of the repository's consumer fixture (test/package.test.ts),
 * made as strict as an app may be. skipLibCheck: the examples are what is checked here; the package's
 * declarations are checked with skipLibCheck off by test/package.test.ts, and checking every
 * dependency's declarations again would double the time of this check.
 */
export function compilerOptions(repo: string, consumer: string): ts.CompilerOptions {
  const fixture = JSON.parse(readFileSync(join(repo, 'test', 'fixtures', 'consumer', 'tsconfig.json'), 'utf8')) as { compilerOptions: object };
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    {
      ...fixture.compilerOptions,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      noImplicitOverride: true,
      noEmit: true,
      skipLibCheck: true,
    },
    consumer,
  );
  if (errors.length) throw new Error(ts.flattenDiagnosticMessageText(errors[0]!.messageText, '\n'));
  return options;
}

export interface TypecheckResult {
  problems: Problem[];
  /** Paths of the generated modules of the blocks marked run, by block. */
  runnable: Array<{ block: CodeBlock; path: string }>;
}

export function typecheck(repo: string, root: string, consumer: string, blocks: CodeBlock[]): TypecheckResult {
  const contexts = readContexts(root);
  const out = join(consumer, 'snippets');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const problems: Problem[] = [];
  const modules = new Map<string, Module>();
  const runnable: TypecheckResult['runnable'] = [];
  const write = (name: string, text: string, module: Omit<Module, 'path'>) => {
    const path = join(out, name);
    writeFileSync(path, text);
    modules.set(path, { path, ...module });
    return path;
  };

  // Each context on its own (an empty fragment): a broken context is reported as itself.
  const contextParts = new Map<string, { before: string; after: string; line: number; indent: number }>();
  for (const [name, text] of contexts) {
    const file = `${CONTEXT_DIR}/${name}.ts`;
    const at = text.indexOf(FRAGMENT);
    if (at === -1 || text.indexOf(FRAGMENT, at + 1) !== -1) {
      problems.push({ file, line: 1, message: `a context must say ${FRAGMENT} exactly once, where the fragment goes` });
      continue;
    }
    const before = text.slice(0, at);
    const part = { before, after: text.slice(at + FRAGMENT.length), line: before.split('\n').length, indent: at - before.lastIndexOf('\n') - 1 };
    contextParts.set(name, part);
    write(`context-${name}.ts`, `${part.before}${part.after}\nexport {};\n`, {
      block: undefined,
      context: { file, fragmentLine: part.line, fragmentLines: 1, indent: part.indent },
    });
  }

  for (const block of blocks) {
    if (block.marker.kind === 'skip') continue;
    const name = `${block.file.replace(/[^\w]+/g, '-')}-L${block.line}.ts`;
    if (block.marker.kind === 'fragment') {
      const part = contextParts.get(block.marker.name);
      if (!part) {
        const known = [...contextParts.keys()].join(', ') || 'none yet';
        problems.push({ file: block.file, line: block.line, message: `no context ${CONTEXT_DIR}/${block.marker.name}.ts (contexts: ${known})` });
        continue;
      }
      const context = {
        file: `${CONTEXT_DIR}/${block.marker.name}.ts`,
        fragmentLine: part.line,
        fragmentLines: block.code.split('\n').length,
        indent: part.indent,
      };
      write(name, `${part.before}${block.code}${part.after}\nexport {};\n`, { block, context });
    } else {
      // `export {}`: a block without imports or exports is still a module of its own.
      const path = write(name, `${block.code}\nexport {};\n`, { block, context: undefined });
      if (block.marker.kind === 'run') runnable.push({ block, path });
    }
  }

  const program = ts.createProgram([...modules.keys()], compilerOptions(repo, consumer));
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    problems.push(locate(diagnostic, modules, consumer));
  }
  return { problems, runnable };
}

/** Where a diagnostic is in the Markdown (or in a context, or in the installed packages). */
function locate(diagnostic: ts.Diagnostic, modules: Map<string, Module>, consumer: string): Problem {
  const text = `TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
  if (!diagnostic.file || diagnostic.start === undefined) return { file: '(compiler options)', line: 0, message: text };
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  const module = modules.get(diagnostic.file.fileName) ?? modules.get(ts.sys.resolvePath(diagnostic.file.fileName));
  if (!module) return { file: relative(consumer, diagnostic.file.fileName), line: line + 1, message: text };
  const { block, context } = module;
  // Lines (0-based) of the generated module: [context before][fragment][context after].
  if (!context) return { file: block!.file, line: block!.line + 1 + line, message: text, column: character + 1 };
  const first = context.fragmentLine - 1;
  if (block && line >= first && line < first + context.fragmentLines) {
    // The fragment's first line follows what its context has before it on that line.
    const column = line === first ? Math.max(1, character + 1 - context.indent) : character + 1;
    return { file: block.file, line: block.line + 1 + line - first, message: text, column };
  }
  const contextLine = line < first ? line + 1 : line - context.fragmentLines + 2;
  if (!block) return { file: context.file, line: contextLine, message: text };
  return { file: block.file, line: block.line, message: `in its context ${context.file}:${contextLine}: ${text}` };
}

export interface RunResult {
  problems: Problem[];
  ran: number;
}

/** Runs each module with tsx from a fresh directory: exit 0 within RUN_TIMEOUT_MS, or a problem. */
export async function runBlocks(runnable: TypecheckResult['runnable']): Promise<RunResult> {
  // tsx's loader in the program's own process (its CLI would start a second Node to run it).
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^(VITEST|NODE_OPTIONS$|AUTHLIB_)/.test(key)) delete env[key];
  const problems: Problem[] = [];
  const queue = [...runnable];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const problem = await runOne(tsx, next.path, env);
      if (problem) problems.push({ file: next.block.file, line: next.block.line, message: problem });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(2, availableParallelism())) }, worker));
  return { problems, ran: runnable.length };
}

function runOne(tsx: string, path: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const cwd = mkdtempSync(join(tmpdir(), 'docs-check-run-'));
  return new Promise((resolve) => {
    // Its own process group: a timeout ends the program and whatever it started. V8's baseline
    // WebAssembly compiler only, as the CLI's bin does: a program of a few seconds that opens an
    // embedded database never gets back what optimising PostgreSQL's code costs (about a quarter
    // of each run's CPU, measured); what the program does is the same.
    const child = spawn(process.execPath, ['--liftoff-only', '--import', tsx, path], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, RUN_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      rmSync(cwd, { recursive: true, force: true });
      // The error's own line (a stack's first line), then the end of the output.
      const lines = output.trim().split('\n');
      const error = lines.find((line) => /^\s*(\w*Error\b|Error:|\[\w*Error)/.test(line));
      const end = lines.slice(-6).filter((line) => line !== error);
      const tail = [...(error ? [error.trim()] : []), ...end].join('\n    ');
      if (timedOut) resolve(`run: did not exit within ${RUN_TIMEOUT_MS / 1000} s (a server or database left open?)${tail ? `\n    ${tail}` : ''}`);
      else if (code !== 0) resolve(`run: exited with ${code ?? signal}${tail ? `\n    ${tail}` : ''}`);
      else resolve(undefined);
    });
  });
}
