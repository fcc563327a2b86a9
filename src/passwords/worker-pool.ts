import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ServiceUnavailableError } from '../errors.js';
import { threadsPermitted } from '../threads-permitted.js';

// bcrypt blocks whichever thread runs it for ~200 ms at cost 12, so it runs here. The worker body
// is inline (not a file) so that it loads the same way from the TypeScript sources, the ESM build
// and the CommonJS build; the bcrypt modules are resolved by absolute path.
//
// The native binding (@node-rs/bcrypt: prebuilt binaries per platform, no install script) is ~1.3x
// faster than bcryptjs and reads and writes the same $2a$/$2b$/$2y$ hashes, so either verifies what
// the other made. Where its binary is missing (a platform without one) bcryptjs does everything.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcryptjs = require(workerData.bcryptjsPath);
let impl = bcryptjs;
try {
  const native = require(workerData.nativePath);
  // It labels its hashes $2y$, the same algorithm as $2b$; relabelled so that stored hashes read alike whichever made them.
  impl = { hashSync: (password, cost) => '$2b$' + native.hashSync(password, cost).slice(4), compareSync: (password, hash) => native.verifySync(password, hash) };
} catch {}
// On Linux a thread's nice value is its own: lowering this worker's priority lets the event loop
// thread take a core the moment a request arrives, instead of waiting out a hash's time slice.
try { require('node:os').setPriority(workerData.niceness); } catch {}
parentPort.on('message', ({ id, op, a, b }) => {
  try {
    const result = op === 'hash' ? impl.hashSync(a, b) : op === 'compare' ? impl.compareSync(a, b) : impl !== bcryptjs;
    parentPort.postMessage({ id, result });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message) });
  }
});
`;

/** The native binding's path, or undefined when it is not installed. */
function nativeBcryptPath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('@node-rs/bcrypt');
  } catch {
    return undefined;
  }
}

type Task = { op: 'hash'; a: string; b: number } | { op: 'compare'; a: string; b: string } | { op: 'native' };
interface Pending {
  task: Task;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * Runs `task` on this thread, for a process that may not start threads (Node's permission model
 * without --allow-worker). bcryptjs's asynchronous API hashes in slices between which the event
 * loop runs, so other requests are still answered, only later than with workers. Loaded here only:
 * an app with workers never holds bcryptjs in its own heap.
 */
async function runHere(task: Task): Promise<unknown> {
  const { default: bcryptjs } = await import('bcryptjs');
  if (task.op === 'hash') return bcryptjs.hash(task.a, task.b);
  if (task.op === 'compare') return bcryptjs.compare(task.a, task.b);
  return false;
}

/**
 * A hash asked of a closed pool: the AuthManager is shutting down, or has, so a request that gets
 * here answers 503 as one that reaches the closed database does, not 500.
 */
const closedError = () => new ServiceUnavailableError(undefined, { cause: new Error('password hasher closed') });

/**
 * Nice value of the hashing threads (0 normal, 19 lowest). At 10 the scheduler gives a runnable
 * event loop about nine tenths of a shared core, so logins keep both cores busy when nothing else
 * runs and step aside when a request comes in.
 */
const WORKER_NICENESS = 10;

/** How long an idle worker lives; the next hash after that waits ~30 ms for a new one to start. */
export const WORKER_IDLE_MS = 30_000;

/** Default number of bcrypt workers: one per core, at most four. */
export const DEFAULT_HASH_WORKERS = Math.max(1, Math.min(4, availableParallelism()));

/**
 * A tiny fixed-size pool of bcrypt workers. Workers start on first use, are unref'd while idle,
 * and end after WORKER_IDLE_MS without work (each holds ~13 MB that an instance serving only
 * token-checked requests should not carry), so a process that never closes the AuthManager can
 * still exit.
 */
export class BcryptWorkerPool {
  readonly #size: number;
  readonly #bcryptjsPath = createRequire(import.meta.url).resolve('bcryptjs');
  readonly #nativePath = nativeBcryptPath();
  readonly #idle: Worker[] = [];
  readonly #all = new Set<Worker>();
  readonly #queue: Pending[] = [];
  readonly #retireTimers = new Map<Worker, NodeJS.Timeout>();
  #nextId = 0;
  #closed = false;

  constructor(
    size = DEFAULT_HASH_WORKERS,
    private readonly idleMs = WORKER_IDLE_MS,
  ) {
    this.#size = size;
  }

  /** How many workers are alive now. */
  get workers(): number {
    return this.#all.size;
  }

  hash(password: string, rounds: number): Promise<string> {
    return this.#run({ op: 'hash', a: password, b: rounds }) as Promise<string>;
  }

  compare(password: string, hash: string): Promise<boolean> {
    return this.#run({ op: 'compare', a: password, b: hash }) as Promise<boolean>;
  }

  /** Whether the workers run the native binding (for diagnostics and tests). */
  usesNative(): Promise<boolean> {
    return this.#run({ op: 'native' }) as Promise<boolean>;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#retireTimers.values()) clearTimeout(timer);
    this.#retireTimers.clear();
    for (const pending of this.#queue.splice(0)) pending.reject(closedError());
    await Promise.all([...this.#all].map((w) => w.terminate()));
    this.#all.clear();
    this.#idle.length = 0;
  }

  #run(task: Task): Promise<unknown> {
    if (this.#closed) return Promise.reject(closedError());
    if (!threadsPermitted()) return runHere(task);
    return new Promise((resolve, reject) => {
      this.#queue.push({ task, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let worker = this.#idle.pop();
      if (worker) this.#keep(worker);
      if (!worker && this.#all.size < this.#size) worker = this.#spawn();
      if (!worker) return;
      this.#execute(worker, this.#queue.shift()!);
    }
  }

  /** Ends `worker` once it has been idle for WORKER_IDLE_MS. */
  #retireLater(worker: Worker): void {
    const timer = setTimeout(() => {
      this.#retireTimers.delete(worker);
      const at = this.#idle.indexOf(worker);
      if (at === -1) return;
      this.#idle.splice(at, 1);
      this.#all.delete(worker);
      void worker.terminate();
    }, this.idleMs);
    timer.unref();
    this.#retireTimers.set(worker, timer);
  }

  /** `worker` has work again: it is not retired. */
  #keep(worker: Worker): void {
    clearTimeout(this.#retireTimers.get(worker));
    this.#retireTimers.delete(worker);
  }

  #spawn(): Worker {
    // execArgv: [] so that flags of the host process (e.g. --input-type=module) cannot change how the
    // CommonJS worker body is parsed.
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { bcryptjsPath: this.#bcryptjsPath, nativePath: this.#nativePath, niceness: WORKER_NICENESS },
    });
    this.#all.add(worker);
    worker.on('error', () => this.#all.delete(worker));
    worker.on('exit', () => this.#all.delete(worker));
    return worker;
  }

  #execute(worker: Worker, pending: Pending): void {
    const id = this.#nextId++;
    worker.ref();
    const onMessage = (msg: { id: number; result?: unknown; error?: string }) => {
      if (msg.id !== id) return;
      cleanup();
      worker.unref();
      this.#idle.push(worker);
      this.#retireLater(worker);
      if (msg.error !== undefined) pending.reject(new Error(msg.error));
      else pending.resolve(msg.result);
      this.#dispatch();
    };
    const onExit = () => {
      cleanup();
      // A hash under way when the pool closes ends with its worker: that is the shutdown's 503 too.
      pending.reject(this.#closed ? closedError() : new Error('password worker exited'));
      this.#dispatch();
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('exit', onExit);
    worker.postMessage({ id, ...pending.task });
  }
}
