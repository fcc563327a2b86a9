import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { bundleFolders } from './bundle-folders.js';
import type { PGliteLike } from './pglite-dialect.js';
import type { PGliteStart } from './start-pglite.js';
import { rebuildError, type ThreadReply, type ThreadRequest } from './thread-messages.js';

/** The built thread entry, beside the bundle (or in dist/ when running from the sources); undefined when neither has it. */
export function pgliteWorkerFile(folders = bundleFolders()): URL | undefined {
  for (const folder of folders) {
    const file = join(folder, 'pglite-worker.js');
    if (existsSync(file)) return pathToFileURL(file);
  }
  return undefined;
}

/** A request before `#call` numbers it: `id` left out of each kind of the union, which keeps its own fields. */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;
type Request = Unnumbered<ThreadRequest>;

/**
 * An embedded database in a thread of its own (see pglite-worker.ts), behind the same few calls
 * the dialect makes of an in-process PGlite. Queries are answered in the order the database runs
 * them; the dialect's lock still gives a transaction the single session from BEGIN to COMMIT.
 */
class PGliteThread implements PGliteLike {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: unknown) => void }>();
  readonly #listeners = new Map<number, (payload: string) => void>();
  #nextId = 1;
  /** Set once the thread is gone: every later call fails with it. */
  #ended: Error | undefined;
  #closing: Promise<void> | undefined;

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (reply: ThreadReply) => {
      if ('notification' in reply) return this.#listeners.get(reply.notification)?.(reply.payload);
      if (!('id' in reply)) return;
      const call = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      this.#idle();
      if (reply.ok) call?.resolve(reply.value);
      else call?.reject(rebuildError(reply.error));
    });
    worker.on('error', (err) => this.#end(err));
    worker.on('exit', (code) => this.#end(new Error(`exit code ${code}`)));
  }

  /**
   * The thread holds the process open only while a call is waiting for it, as a socket with a
   * query in flight does: an app whose work is done ends, as it did with PGlite on its own thread.
   */
  #idle() {
    if (this.#pending.size === 0) this.#worker.unref();
  }

  #end(cause: Error) {
    if (this.#ended) return;
    // "PGlite is closed" is how PGlite itself says it, and what marks the database unavailable (503).
    this.#ended = new Error(`PGlite is closed: its thread ended (${cause.message})`, { cause });
    for (const call of this.#pending.values()) call.reject(this.#ended);
    this.#pending.clear();
  }

  /** Sends `request`; `numbered` learns its id before it leaves (a subscription is known by it). */
  #call<T>(request: Request, numbered?: (id: number) => void): Promise<T> {
    if (this.#ended) return Promise.reject(this.#ended);
    const id = this.#nextId++;
    numbered?.(id);
    return new Promise<T>((resolve, reject) => {
      // Throws (DataCloneError) for a parameter that cannot be copied to the thread, a function
      // say: then nothing waits for an answer, and the thread is left as it was.
      this.#worker.postMessage({ ...request, id });
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.ref();
    });
  }

  query<T>(sql: string, params: unknown[] = []) {
    return this.#call<{ rows: T[]; affectedRows?: number }>({ op: 'query', sql, params });
  }

  exec(sql: string) {
    return this.#call<Array<{ rows: unknown[]; affectedRows?: number }>>({ op: 'exec', sql });
  }

  async listen(channel: string, callback: (payload: string) => void) {
    // The listener is in place before the LISTEN is sent: a notification the thread sends before
    // its answer (a query queued behind the LISTEN may run first) finds it.
    let subscription = 0;
    await this.#call({ op: 'listen', channel }, (id) => {
      subscription = id;
      this.#listeners.set(id, callback);
    }).catch((err: unknown) => {
      this.#listeners.delete(subscription);
      throw err;
    });
    return async () => {
      this.#listeners.delete(subscription);
      await this.#call({ op: 'unlisten', subscription });
    };
  }

  /** The one close, whoever asks and however often. */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close() {
    if (this.#ended) return;
    try {
      await this.#call({ op: 'close' });
    } finally {
      await this.#worker.terminate();
    }
  }
}

/**
 * Starts the embedded database's thread and resolves once its database is open; rejects with what
 * stopped it (as `new PGlite(...).waitReady` would), the thread then gone.
 */
export function startPGliteThread(file: URL, start: PGliteStart): Promise<PGliteLike> {
  // None of the app's Node options: they were given for the app's entry (`--input-type` with `-e`,
  // `--import` of a loader or an agent), and this thread runs only the built file and PGlite. V8's
  // own flags apply to every thread of the process regardless. resourceLimits are left to V8's
  // defaults: PGlite's memory is WebAssembly's, outside the heap.
  const worker = new Worker(file, { workerData: start, execArgv: [], name: 'express-authlib PGlite' });
  return new Promise((resolve, reject) => {
    const failed = (err: unknown) => {
      worker.off('message', started);
      worker.off('exit', exited);
      void worker.terminate();
      // As PGlite's own waitReady: its file system throws plain objects, which describeThrown reads.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      reject(err);
    };
    const started = (reply: ThreadReply) => {
      if (!('ready' in reply)) return;
      worker.off('message', started);
      worker.off('error', failed);
      worker.off('exit', exited);
      if (!reply.ready) return failed(rebuildError(reply.error));
      const thread = new PGliteThread(worker);
      worker.unref();
      resolve(thread);
    };
    const exited = (code: number) => failed(new Error(`the embedded database's thread ended before it opened (exit code ${code})`));
    worker.on('message', started);
    worker.once('error', failed);
    worker.once('exit', exited);
  });
}
