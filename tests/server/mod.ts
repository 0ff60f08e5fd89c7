/**
 * An in-process RethinkDB 2.4.4 test server, for tests and benchmarks of the backup tool.
 *
 * It speaks the real wire protocol (V1_0 handshake with SCRAM-SHA-256, JSON frames, concurrent
 * queries, cursors, table changefeeds) and implements the ReQL terms a dump/restore tool sends,
 * with results and error messages copied from recordings of a real server
 * (`shared/rethinkdb-2.4.4/wire`).
 *
 * ```ts
 * import { startTestServer } from "./tests/server/mod.ts";
 * const server = await startTestServer({ password: "s3cret" });
 * // connect any driver to server.host:server.port ...
 * server.faults.closeAfterDocuments(1000);
 * server.faults.restart({ downMs: 200, unavailableMs: 1000 }); // as after a SIGKILL
 * await server.close();
 * ```
 *
 * Known differences from a real server (all deliberate or unobservable by the backup tool):
 * - unordered table reads come back in primary-key order (the real order depends on hash
 *   sharding); batch sizes are measured on JSON text, so batch boundaries differ slightly;
 * - `doc_count_estimates` is a deterministic estimate near the count (the real one is rough too,
 *   but varies), so tests cannot mistake it for the count;
 * - documents are returned in the real server's bytes (object keys sorted, raw UTF-8, numbers such
 *   as `-0.0` and `12345678901234567000.0`, an `r.json` integer `-0` stored as `0`);
 *   BINARY data is not re-encoded (the real server re-wraps base64 at 76 columns);
 * - `query` texts of indexes and hooks are regenerated from the function like RethinkDB does, but
 *   always on one line (the real printer may wrap very long functions);
 * - changefeeds exist on whole user tables only (`r.table(...).changes(...)` as the whole query):
 *   `include_initial` sends the documents in reverse primary-key order (the real order follows
 *   hash sharding), and changes made meanwhile after them (the real server interleaves them);
 * - every user is an administrator (no permissions); other changefeeds, geo queries, `r.js`,
 *   `r.http` and a few rarely used terms are not implemented: they fail with a RUNTIME_ERROR
 *   (`e` = INTERNAL) naming the term, before any part of the query runs.
 *
 * @module
 */

export { startTestServer } from "./server.ts";
export type { TestServer, TestServerOptions } from "./server.ts";
export { containsTerm, Faults } from "./faults.ts";
export type {
  FeedMatcher,
  InjectedError,
  QueryInfo,
  QueryMatcher,
  RefuseMode,
  RestartOptions,
} from "./faults.ts";
export type { QueryRecord } from "./protocol/connection.ts";
export { Store } from "./store/store.ts";
export type { Database, Table } from "./store/table.ts";
export { ErrorType, QueryType, ResponseType, TermType } from "./reql/proto.ts";
