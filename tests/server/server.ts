/**
 * The listening test server: accepts TCP (or TLS) connections on 127.0.0.1 and serves each with
 * a {@link Connection}. While fault injection refuses connections in `"refuse"` mode (also during
 * a simulated restart) the listener is closed, and a new one listens on the same port afterwards.
 *
 * @module
 */

import { Evaluator } from "./reql/evaluator.ts";
import { createRegistry } from "./reql/terms/mod.ts";
import { Faults } from "./faults.ts";
import { Connection, type QueryRecord } from "./protocol/connection.ts";
import { Store } from "./store/store.ts";
import { TermType } from "./reql/proto.ts";

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  /** Address to listen on; default 127.0.0.1. */
  hostname?: string;
  /** Port; default 0 (a free port). */
  port?: number;
  /** Password of `admin`; default none. */
  password?: string;
  /** Serve TLS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** Server name shown by `server_status` and `config()`; default `rethinkdb_test_server`. */
  serverName?: string;
  /** Keep every received query in {@link TestServer.queries}; default false. */
  recordQueries?: boolean;
  /**
   * Model the real server's slow schema changes (off by default; unit tests leave it off):
   * `tableCreate` answers after `tableCreateMs`, `indexWait` after `indexWaitMs`. Concurrent
   * calls overlap. A real 2.4.4 on 2 cores: about 270 ms and 55 ms.
   */
  latency?: { tableCreateMs?: number; indexWaitMs?: number };
}

/** A running test server. */
export interface TestServer {
  /** Host to connect to (127.0.0.1 unless `hostname` was given). */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  /** The data; tests may inspect or prepare it directly. */
  readonly store: Store;
  /** Fault injection switches. */
  readonly faults: Faults;
  /** Received queries, when started with `recordQueries`. */
  readonly queries: QueryRecord[];
  /** Number of currently open client connections. */
  readonly openConnections: number;
  /** Sets (or with null removes) a user's password, creating the user if needed. */
  setPassword(user: string, password: string | null): void;
  /** Closes every client connection (the server keeps listening). */
  dropConnections(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Starts a test server; resolves once it listens. */
export function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const tls = options.tls === undefined ? undefined : {
    cert: Deno.readTextFileSync(options.tls.certFile),
    key: Deno.readTextFileSync(options.tls.keyFile),
  };
  const open = (port: number): Deno.Listener =>
    tls === undefined
      ? Deno.listen({ hostname, port })
      : Deno.listenTls({ hostname, port, ...tls });
  let listener = open(options.port ?? 0);
  const port = (listener.addr as Deno.NetAddr).port;
  const store = new Store({ serverName: options.serverName, adminPassword: options.password });
  const faults = new Faults();
  const queries: QueryRecord[] = [];
  const context = {
    store,
    evaluator: new Evaluator(createRegistry()),
    faults,
    record: options.recordQueries ? (q: QueryRecord) => queries.push(q) : undefined,
    latencyOf: (termType: number | undefined) =>
      termType === TermType.TABLE_CREATE
        ? options.latency?.tableCreateMs ?? 0
        : termType === TermType.INDEX_WAIT
        ? options.latency?.indexWaitMs ?? 0
        : 0,
  };
  /** Open connections, each with the promise of its serving. */
  const connections = new Map<Connection, Promise<void>>();
  const hanging = new Set<Deno.Conn>();
  let nextId = 1;
  let stopped = false;
  // While connections are refused ("refuse" mode) the listener is closed; this resolves when a
  // new one listens (or the server stops).
  let paused:
    | { resumed: PromiseWithResolvers<void>; closed: PromiseWithResolvers<void> }
    | undefined;
  let relistenTimer: ReturnType<typeof setTimeout> | undefined;

  const relisten = () => {
    relistenTimer = undefined;
    if (paused === undefined) return;
    if (!stopped) {
      try {
        listener = open(port);
      } catch {
        // The port is still held (rare): try again shortly.
        relistenTimer = setTimeout(relisten, 20);
        return;
      }
    }
    paused.closed.resolve(); // if the accept loop has not seen the close yet, it never will
    paused.resumed.resolve();
    paused = undefined;
  };

  faults.attach({
    store,
    dropConnections: () => {
      const serving = [...connections.values()];
      server.dropConnections();
      return Promise.all(serving).then(() => {});
    },
    listen: (on) => {
      if (!on) {
        if (paused === undefined && !stopped) {
          paused = { resumed: Promise.withResolvers(), closed: Promise.withResolvers() };
          listener.close();
        }
        // The accept loop sees the close once the socket is really closed.
        return paused?.closed.promise ?? Promise.resolve();
      }
      if (paused !== undefined && relistenTimer === undefined) relisten();
      return paused?.resumed.promise ?? Promise.resolve();
    },
  });

  const acceptLoop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      const current = listener;
      try {
        conn = await current.accept();
      } catch {
        if (stopped) break;
        if (paused !== undefined) {
          paused.closed.resolve();
          await paused.resumed.promise;
          if (stopped) break;
          continue;
        }
        if (listener !== current) continue; // refused and listening again already
        break;
      }
      // As a real server does (`TCP_NODELAY` in arch/io/network.cc): frames answering
      // pipelined queries would otherwise wait for the client's delayed ACK, about 40 ms.
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const refusing = faults.refusing;
      if (refusing === "close") {
        conn.close();
        continue;
      }
      if (refusing === "hang") {
        hanging.add(conn);
        continue;
      }
      const connection = new Connection(nextId++, conn, context);
      connections.set(connection, connection.serve().finally(() => connections.delete(connection)));
    }
  })();

  const server: TestServer = {
    host: hostname,
    port,
    address: `${hostname}:${port}`,
    store,
    faults,
    queries,
    get openConnections() {
      return connections.size;
    },
    setPassword: (user, password) => store.users.setPassword(user, password),
    dropConnections: () => {
      for (const c of connections.keys()) c.close();
      for (const c of hanging) closeQuietly(c);
      hanging.clear();
    },
    close: async () => {
      if (stopped) return;
      stopped = true;
      if (paused === undefined) listener.close();
      clearTimeout(relistenTimer);
      relistenTimer = undefined;
      paused?.closed.resolve();
      paused?.resumed.resolve();
      // Ends a restart under way (its timers) and any refusal.
      faults.reset();
      server.dropConnections();
      await acceptLoop;
    },
  };
  return Promise.resolve(server);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
