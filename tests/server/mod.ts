/**
 * An in-process RethinkDB 2.4.4 test server, for tests and benchmarks of the backup tool.
 *
 * It speaks the real wire protocol (V1_0 handshake with SCRAM-SHA-256, JSON frames, concurrent
 * queries, cursors) and implements the ReQL terms a dump/restore tool sends, with results and
 * error messages copied from recordings of a real server (`shared/rethinkdb-2.4.4/wire`).
 *
 * ```ts
 * import { startTestServer } from "./tests/server/mod.ts";
 * const server = await startTestServer({ password: "s3cret" });
 * // connect any driver to server.host:server.port ...
 * server.faults.closeAfterDocuments(1000);
 * await server.close();
 * ```
 *
 * @module
 */

export { startTestServer } from "./server.ts";
export type { TestServer, TestServerOptions } from "./server.ts";
export { containsTerm, Faults } from "./faults.ts";
export type { InjectedError, QueryInfo, QueryMatcher, RefuseMode } from "./faults.ts";
export type { QueryRecord } from "./protocol/connection.ts";
export { Store } from "./store/store.ts";
export type { Database, Table } from "./store/table.ts";
export { ErrorType, QueryType, ResponseType, TermType } from "./reql/proto.ts";
