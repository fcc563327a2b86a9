/**
 * The thread an embedded database opened from a `pglite://` DSN runs in (built to
 * dist/pglite-worker.js; pglite-thread.ts starts it). PGlite is PostgreSQL compiled to
 * WebAssembly: on the app's own thread its queries took the event loop, and its JavaScript state
 * (about 6 MB: tens of thousands of wrappers of its WebAssembly exports, its in-memory file system)
 * sat in the app's heap, which V8 marks again on every major collection, slowing every route of
 * the app. Here it has a heap and an event loop of its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { importPGlite } from './load-pglite.js';
import { startPGlite, type PGliteStart } from './start-pglite.js';
import { cloneError, type ThreadReply, type ThreadRequest } from './thread-messages.js';

const port = parentPort!;
const send = (reply: ThreadReply) => port.postMessage(reply);

const opened = importPGlite().then((pglite) => startPGlite(pglite, workerData as PGliteStart));
opened.then(
  () => send({ ready: true }),
  (err: unknown) => send({ ready: false, error: cloneError(err) }),
);

const subscriptions = new Map<number, () => Promise<void>>();

async function run(request: ThreadRequest): Promise<unknown> {
  const db = await opened;
  switch (request.op) {
    case 'query': {
      const { rows, affectedRows } = await db.query(request.sql, request.params);
      return { rows, affectedRows };
    }
    case 'exec':
      return (await db.exec(request.sql)).map(({ rows, affectedRows }) => ({ rows, affectedRows }));
    case 'listen': {
      // Known by the request's id, which the library's side has already tied to its listener.
      const subscription = request.id;
      subscriptions.set(subscription, await db.listen(request.channel, (payload) => send({ notification: subscription, payload })));
      return undefined;
    }
    case 'unlisten': {
      const stop = subscriptions.get(request.subscription);
      subscriptions.delete(request.subscription);
      await stop?.();
      return undefined;
    }
    case 'close':
      await db.close();
      return undefined;
  }
}

port.on('message', (request: ThreadRequest) => {
  run(request).then(
    (value) => send({ id: request.id, ok: true, value }),
    (err: unknown) => send({ id: request.id, ok: false, error: cloneError(err) }),
  );
});
