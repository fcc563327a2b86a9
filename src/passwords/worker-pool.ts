import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

// bcryptjs is pure JavaScript and blocks whichever thread runs it for ~100 ms at cost 12, so it
// runs here. The worker body is inline (not a file) so that it loads the same way from the
// TypeScript sources, the ESM build and the CommonJS build; bcryptjs is resolved by absolute path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
parentPort.on('message', ({ id, op, a, b }) => {
  try {
    const result = op === 'hash' ? bcrypt.hashSync(a, b) : bcrypt.compareSync(a, b);
    parentPort.postMessage({ id, result });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message) });
  }
});
`;

type Task = { op: 'hash'; a: string; b: number } | { op: 'compare'; a: string; b: string };
interface Pending {
  task: Task;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** Default number of bcrypt workers: one per core, at most four. */
export const DEFAULT_HASH_WORKERS = Math.max(1, Math.min(4, availableParallelism()));

/**
 * A tiny fixed-size pool of bcrypt workers. Workers start on first use and are unref'd while idle,
 * so a process that never closes the AuthManager can still exit.
 */
export class BcryptWorkerPool {
  readonly #size: number;
  readonly #bcryptPath = createRequire(import.meta.url).resolve('bcryptjs');
  readonly #idle: Worker[] = [];
  readonly #all = new Set<Worker>();
  readonly #queue: Pending[] = [];
  #nextId = 0;
  #closed = false;

  constructor(size = DEFAULT_HASH_WORKERS) {
    this.#size = size;
  }

  hash(password: string, rounds: number): Promise<string> {
    return this.#run({ op: 'hash', a: password, b: rounds }) as Promise<string>;
  }

  compare(password: string, hash: string): Promise<boolean> {
    return this.#run({ op: 'compare', a: password, b: hash }) as Promise<boolean>;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const pending of this.#queue.splice(0)) pending.reject(new Error('password hasher closed'));
    await Promise.all([...this.#all].map((w) => w.terminate()));
    this.#all.clear();
    this.#idle.length = 0;
  }

  #run(task: Task): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('password hasher closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ task, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let worker = this.#idle.pop();
      if (!worker && this.#all.size < this.#size) worker = this.#spawn();
      if (!worker) return;
      this.#execute(worker, this.#queue.shift()!);
    }
  }

  #spawn(): Worker {
    // execArgv: [] so that flags of the host process (e.g. --input-type=module) cannot change how the
    // CommonJS worker body is parsed.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { bcryptPath: this.#bcryptPath } });
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
      if (msg.error !== undefined) pending.reject(new Error(msg.error));
      else pending.resolve(msg.result);
      this.#dispatch();
    };
    const onExit = () => {
      cleanup();
      pending.reject(new Error('password worker exited'));
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
