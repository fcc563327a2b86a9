import { TEST_DSN } from './database.js';
import net from 'node:net';

/**
 * How a cut proxy treats new connections:
 * - 'refuse': the listening socket is closed, so a connect gets ECONNREFUSED at once (server down);
 * - 'blackhole': connections are accepted and never forwarded nor answered (network partition),
 *   so a client only notices through its own timeouts.
 */
export type CutMode = 'refuse' | 'blackhole';

export interface TcpProxy {
  /** The port the proxy listens on (stays the same across cut/restore). */
  readonly port: number;
  /** `postgresql://...` DSN through the proxy, for `dbDsn`. */
  dsn(database?: string, user?: string): string;
  /** Destroys every current connection (both sides) and refuses or blackholes new ones. */
  cut(mode?: CutMode): Promise<void>;
  /** Forwards new connections again; blackholed connections are dropped. */
  restore(): Promise<void>;
  /** Closes everything; the proxy cannot be used afterwards. */
  stop(): Promise<void>;
  /** Whether the proxy is currently cut, and how. */
  readonly state: 'open' | CutMode | 'stopped';
  /** Local ports of the proxy's live connections to the upstream server (as `pg_stat_activity.client_port` shows them). */
  upstreamPorts(): number[];
  /** Connections accepted so far (forwarded or blackholed). */
  readonly accepted: number;
  /** Delays every forwarded chunk (both directions) by `ms`, so that a query is reliably in flight; 0 turns it off. */
  setLatency(ms: number): void;
}

/**
 * A TCP proxy on 127.0.0.1 (random port) to `targetHost:targetPort`, used to simulate database
 * outages without touching the real server.
 */
/** The database of AUTHLIB_TEST_DSN (`postgres` without one). */
const TEST_DATABASE = TEST_DSN ? decodeURIComponent(new URL(TEST_DSN).pathname.slice(1)) || 'postgres' : 'postgres';

export async function startTcpProxy(targetPort = 5432, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const held = new Set<net.Socket>();
  let state: 'open' | CutMode | 'stopped' = 'open';
  let accepted = 0;
  let port = 0;
  let latency = 0;

  const onConnection = (client: net.Socket) => {
    accepted += 1;
    client.on('error', () => undefined);
    if (state !== 'open') {
      // Blackhole: accept, read nothing, answer nothing.
      held.add(client);
      client.pause();
      client.on('close', () => held.delete(client));
      return;
    }
    const upstream = net.connect({ port: targetPort, host: targetHost });
    upstream.on('error', () => undefined);
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    // Forwarded chunk by chunk (not pipe()) so that a latency can be added; equal delays keep the order.
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk: Buffer) => {
        const write = () => {
          if (!to.destroyed) to.write(chunk);
        };
        if (latency > 0) setTimeout(write, latency);
        else write();
      });
    forward(client, upstream);
    forward(upstream, client);
  };

  let server = net.createServer(onConnection);

  const listen = (srv: net.Server, wanted: number) =>
    new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(wanted, '127.0.0.1', () => {
        srv.off('error', reject);
        resolve();
      });
    });
  const closeServer = (srv: net.Server) => new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve()));

  await listen(server, 0);
  port = (server.address() as net.AddressInfo).port;

  const destroyAll = () => {
    for (const { client, upstream } of [...pairs]) {
      // An abrupt loss (RST), as when the server process dies or the network drops the connection.
      if (!client.destroyed) client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  const dropHeld = () => {
    for (const s of [...held]) if (!s.destroyed) s.resetAndDestroy();
    held.clear();
  };

  return {
    get port() {
      return port;
    },
    get state() {
      return state;
    },
    get accepted() {
      return accepted;
    },
    // The test database by default, so that instances behind the proxy and beside it share data.
    dsn(database = TEST_DATABASE, user = 'postgres') {
      return `postgresql://${user}@127.0.0.1:${port}/${database}`;
    },
    async cut(mode: CutMode = 'refuse') {
      if (state === 'stopped') throw new Error('proxy stopped');
      state = mode;
      if (mode === 'refuse') {
        // server.close() only stops accepting; pending (held) sockets are dropped too.
        dropHeld();
        const closing = closeServer(server);
        destroyAll();
        await closing;
      } else {
        if (!server.listening) {
          server = net.createServer(onConnection);
          await listen(server, port);
        }
        destroyAll();
      }
    },
    async restore() {
      if (state === 'stopped') throw new Error('proxy stopped');
      dropHeld();
      if (!server.listening) {
        server = net.createServer(onConnection);
        await listen(server, port);
      }
      state = 'open';
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      dropHeld();
      destroyAll();
      await closeServer(server);
    },
    setLatency(ms: number) {
      latency = ms;
    },
    upstreamPorts() {
      return [...pairs].map((p) => p.upstream.localPort).filter((p): p is number => typeof p === 'number');
    },
  };
}
