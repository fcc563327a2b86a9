/**
 * What the embedded database's thread (pglite-worker.ts) and the library (pglite-thread.ts) say to
 * each other. Kept in one place so the two sides cannot drift apart.
 */

/** A call into the thread; `id` pairs it with its answer. */
export type ThreadRequest =
  | { id: number; op: 'query'; sql: string; params: unknown[] }
  | { id: number; op: 'exec'; sql: string }
  // A subscription is known by the id of the request that made it; its notifications carry it.
  | { id: number; op: 'listen'; channel: string }
  | { id: number; op: 'unlisten'; subscription: number }
  | { id: number; op: 'close' };

/** What comes back: an answer to a request, the end of start-up, or a notification. */
export type ThreadReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: ClonedError }
  | { ready: true }
  | { ready: false; error: ClonedError }
  | { notification: number; payload: string };

/**
 * A thrown value as it crosses a thread. Structured cloning keeps an Error's message but drops the
 * fields the library reads (PostgreSQL's SQLSTATE `code`, `constraint`, `detail`), and PGlite's
 * file system throws plain objects: both are carried as their own fields and rebuilt on arrival.
 */
export interface ClonedError {
  error: boolean;
  name?: string;
  message?: string;
  fields: Record<string, unknown>;
}

const PRIMITIVE = new Set(['string', 'number', 'boolean', 'bigint']);

/** The thrown value's own plain fields (an Error's stack stays in the thread, where it was thrown). */
export function cloneError(thrown: unknown): ClonedError {
  const fields: Record<string, unknown> = {};
  if (typeof thrown === 'object' && thrown !== null) {
    for (const [key, value] of Object.entries(thrown)) {
      if (key !== 'stack' && (value === null || PRIMITIVE.has(typeof value))) fields[key] = value;
    }
  }
  if (thrown instanceof Error) return { error: true, name: thrown.name, message: thrown.message, fields };
  if (typeof thrown !== 'object' || thrown === null) return { error: true, message: String(thrown), fields };
  return { error: false, fields };
}

/** The thrown value again, on this side: an Error with the fields it had, or the plain object. */
export function rebuildError(cloned: ClonedError): unknown {
  if (!cloned.error) return { ...cloned.fields };
  const err = new Error(cloned.message ?? 'the embedded database failed');
  if (cloned.name) err.name = cloned.name;
  return Object.assign(err, cloned.fields);
}
