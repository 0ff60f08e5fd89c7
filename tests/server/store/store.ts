/**
 * The whole server state: databases, tables, users and the server's identity. Every method that
 * can fail throws the exact error RethinkDB 2.4.4 answers (see wire/scenarios.jsonl).
 *
 * @module
 */

import { ErrorType } from "../reql/proto.ts";
import { logicError, ReqlRuntimeError } from "../reql/errors.ts";
import { Database, Table } from "./table.ts";
import { Users } from "./users.ts";

/** The name of RethinkDB's system database. */
export const SYSTEM_DB = "rethinkdb";

const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Options of a new table. */
export interface TableOptions {
  primaryKey?: string;
  shards?: number;
  replicas?: number;
}

/** Identity of the (single) server, as `server_status` and `config()` show it. */
export interface ServerIdentity {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly startedAt: Date;
}

/** All databases, tables and users of a test server. */
export class Store {
  readonly #dbs = new Map<string, Database>();
  readonly users: Users;
  readonly server: ServerIdentity;

  constructor(
    options: { serverName?: string; adminPassword?: string; createTestDb?: boolean } = {},
  ) {
    this.users = new Users(options.adminPassword ?? "");
    this.server = {
      id: crypto.randomUUID(),
      name: options.serverName ?? "rethinkdb_test_server",
      version: "rethinkdb 2.4.4 (x86_64-linux-gnu) (GCC 12.2.0)",
      startedAt: new Date(),
    };
    // A fresh RethinkDB server has a `test` database.
    if (options.createTestDb ?? true) this.createDb("test");
  }

  /** Database names, sorted, including `rethinkdb` (as `r.dbList()` returns them). */
  dbNames(): string[] {
    return [...this.#dbs.keys(), SYSTEM_DB].sort();
  }

  /** True if the database exists (the system database always does). */
  hasDb(name: string): boolean {
    return name === SYSTEM_DB || this.#dbs.has(name);
  }

  /** A user database; throws RethinkDB's error if missing. */
  db(name: string): Database {
    const db = this.#dbs.get(name);
    if (db === undefined) throw missingDb(name);
    return db;
  }

  /** Creates a database. */
  createDb(name: string): Database {
    if (!NAME_PATTERN.test(name)) {
      throw logicError(`Database name \`${name}\` invalid (Use A-Z, a-z, 0-9, _ and - only).`);
    }
    if (this.hasDb(name)) throw new ReqlRuntimeError(`Database \`${name}\` already exists.`);
    const db = new Database(crypto.randomUUID(), name);
    this.#dbs.set(name, db);
    return db;
  }

  /** Drops a database and its tables (ending their changefeeds). */
  dropDb(name: string): { db: Database; tablesDropped: number } {
    if (name === SYSTEM_DB) {
      throw new ReqlRuntimeError(`Database \`${SYSTEM_DB}\` is special; you can't delete it.`);
    }
    const db = this.db(name);
    this.#dbs.delete(name);
    for (const table of db.tables.values()) table.abortFeeds();
    return { db, tablesDropped: db.tables.size };
  }

  /** A user table; throws RethinkDB's error if missing. */
  table(dbName: string, name: string): Table {
    const table = this.db(dbName).tables.get(name);
    if (table === undefined) {
      throw new ReqlRuntimeError(`Table \`${dbName}.${name}\` does not exist.`);
    }
    return table;
  }

  /** Creates a table. */
  createTable(dbName: string, name: string, options: TableOptions = {}): Table {
    if (dbName === SYSTEM_DB) {
      throw new ReqlRuntimeError(
        `Database \`${SYSTEM_DB}\` is special; you can't create new tables in it.`,
      );
    }
    if (!NAME_PATTERN.test(name)) {
      throw logicError(`Table name \`${name}\` invalid (Use A-Z, a-z, 0-9, _ and - only).`);
    }
    const db = this.db(dbName);
    if (db.tables.has(name)) {
      throw new ReqlRuntimeError(`Table \`${dbName}.${name}\` already exists.`);
    }
    const shards = options.shards ?? 1;
    const replicas = options.replicas ?? 1;
    if (!Number.isInteger(shards) || shards < 1) {
      throw logicError("Every table must have at least one shard.");
    }
    if (shards > 64) throw logicError("Maximum number of shards is 64.");
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw logicError("Every table must have at least one replica.");
    }
    if (replicas > 1) {
      throw new ReqlRuntimeError(
        `Can't put ${replicas} replicas on servers with the tag \`default\` because there ` +
          `are only 1 servers with the tag \`default\`. It's impossible to have more replicas ` +
          `of the data than there are servers.`,
        ErrorType.OP_FAILED,
      );
    }
    const table = new Table(crypto.randomUUID(), db, name, options.primaryKey ?? "id", shards);
    db.tables.set(name, table);
    return table;
  }

  /** Drops a table (ending its changefeeds). */
  dropTable(dbName: string, name: string): Table {
    if (dbName === SYSTEM_DB) {
      throw new ReqlRuntimeError(
        `Database \`${SYSTEM_DB}\` is special; you can't delete tables in it.`,
      );
    }
    const table = this.table(dbName, name);
    table.db.tables.delete(name);
    // The real server's feeds on a dropped table end with `Changefeed aborted (unavailable).`
    table.abortFeeds();
    return table;
  }

  /** Every user table, in database then table name order. */
  allTables(): Table[] {
    return [...this.#dbs.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).flatMap((db) =>
      [...db.tables.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
    );
  }

  /** Every user database, by name. */
  allDbs(): Database[] {
    return [...this.#dbs.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Finds a table by its id (system tables refer to tables by id). */
  tableById(id: string): Table | undefined {
    return this.allTables().find((t) => t.id === id);
  }
}

/** RethinkDB's error for a missing database. */
export function missingDb(name: string): ReqlRuntimeError {
  return new ReqlRuntimeError(`Database \`${name}\` does not exist.`);
}
