/**
 * Where tests send their queries: a real RethinkDB server when `RETHINKDB_TEST_SERVER=host:port`
 * is set (with optional `RETHINKDB_TEST_PASSWORD`), otherwise a fresh in-process test server.
 *
 * Tests create uniquely named databases through {@link TestTarget.uniqueDb} (or register the ones
 * they create with {@link TestTarget.track}); {@link TestTarget.cleanup} drops exactly those,
 * never anything else, and stops the in-process server.
 *
 * Fault injection exists only in the test server: tests that need it use
 * `ignore: usingRealServer` and say why in their name.
 *
 * @module
 */

import { type Connection, r } from "npm:rethinkdb-ts@3.0.0";
import { startTestServer, type TestServer, type TestServerOptions } from "../server/mod.ts";

/** The real server named by the environment, if any. */
export const realServer: { host: string; port: number; password: string } | undefined = (() => {
  const spec = Deno.env.get("RETHINKDB_TEST_SERVER");
  if (spec === undefined || spec === "") return undefined;
  const at = spec.lastIndexOf(":");
  return {
    host: at < 0 ? spec : spec.slice(0, at),
    port: at < 0 ? 28015 : Number(spec.slice(at + 1)),
    password: Deno.env.get("RETHINKDB_TEST_PASSWORD") ?? "",
  };
})();

/** True when tests run against a real server (so fault injection is unavailable). */
export const usingRealServer: boolean = realServer !== undefined;

/** Why fault-injection tests are skipped, or undefined when they can run. */
export const faultsSkipReason: string | undefined = usingRealServer
  ? "fault injection needs the in-process test server (RETHINKDB_TEST_SERVER is set)"
  : undefined;

/** A server to test against, plus cleanup of what the test created. */
export interface TestTarget {
  readonly host: string;
  readonly port: number;
  /** Password of `admin` ("" for none). */
  readonly password: string;
  /** The in-process server, or undefined for a real one. */
  readonly server: TestServer | undefined;
  /** Registers a database the test created, to be dropped by {@link cleanup}. */
  track(db: string): string;
  /** A fresh database name (`<prefix>_<random>`), registered for cleanup (not created). */
  uniqueDb(prefix?: string): string;
  /** A rethinkdb-ts connection to the target (closed by {@link cleanup}). */
  connect(): Promise<Connection>;
  /** Drops the registered databases, closes connections, stops the in-process server. */
  cleanup(): Promise<void>;
}

/** Creates a target (see the module documentation). `options` apply to an in-process server. */
export async function testTarget(options: TestServerOptions = {}): Promise<TestTarget> {
  const server = realServer === undefined ? await startTestServer(options) : undefined;
  return makeTarget(server, options);
}

/**
 * Runs `body` against `target` (a fresh {@link testTarget} by default) and a new temporary
 * directory; then, whatever happened, resets the test server's faults, drops what the test
 * created and removes the directory.
 *
 * @example
 * ```ts
 * Deno.test("dump: …", () =>
 *   withTarget(async (target, dir) => {
 *     const db = target.uniqueDb("x");
 *     // … dump into `${dir}/x.tar.gz` …
 *   }));
 * ```
 */
export async function withTarget(
  body: (target: TestTarget, dir: string) => Promise<void>,
  target: Promise<TestTarget> = testTarget(),
): Promise<void> {
  const ready = await target;
  const dir = await Deno.makeTempDir();
  try {
    await body(ready, dir);
  } finally {
    ready.server?.faults.reset();
    await ready.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A target that is always a fresh in-process test server, whatever the environment says. */
export async function inProcessTarget(options: TestServerOptions = {}): Promise<TestTarget> {
  return makeTarget(await startTestServer(options), options);
}

function makeTarget(server: TestServer | undefined, options: TestServerOptions): TestTarget {
  const host = server?.host ?? realServer!.host;
  const port = server?.port ?? realServer!.port;
  const password = server !== undefined ? options.password ?? "" : realServer!.password;
  const dbs = new Set<string>();
  const connections: Connection[] = [];
  const connect = async () => {
    const conn = await r.connect({ host, port, password, silent: true });
    connections.push(conn);
    return conn;
  };
  return {
    host,
    port,
    password,
    server,
    track(db) {
      dbs.add(db);
      return db;
    },
    uniqueDb(prefix = "t") {
      const name = `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
      dbs.add(name);
      return name;
    },
    connect,
    async cleanup() {
      try {
        // An in-process server disappears with its data; only a real server needs dropping.
        if (server === undefined && dbs.size > 0) {
          const conn = await connect();
          const existing = await r.dbList().run(conn);
          for (const db of dbs) if (existing.includes(db)) await r.dbDrop(db).run(conn);
        }
      } finally {
        for (const c of connections) await c.close().catch(() => {});
        await server?.close();
      }
    },
  };
}
