/**
 * Administration terms: databases and tables (create, drop, list), `config()`, `status()`,
 * `wait()`, `sync()`. Results have the exact shapes of RethinkDB 2.4.4 (see scenarios.jsonl).
 *
 * @module
 */

import type { DatumObject } from "../datum.ts";
import { logicError, ReqlRuntimeError, WaitForTables } from "../errors.ts";
import type { Evaluator, Registry, TermCall } from "../evaluator.ts";
import { TermType } from "../proto.ts";
import { DbValue, SingleSelection, TableValue, typeName, type Value } from "../values.ts";
import { systemTable, systemTableNames } from "../system_tables.ts";
import { dbConfig, tableConfig, tableStatus } from "../../store/describe.ts";
import { missingDb, SYSTEM_DB } from "../../store/store.ts";
import type { Table } from "../../store/table.ts";

const READ_MODES = ["single", "majority", "outdated", "_debug_direct"];

function nameArg(call: TermCall, ev: Evaluator, i: number): string {
  const v = ev.datumArg(call, i);
  if (typeof v !== "string") {
    throw logicError(`Expected type STRING but found ${typeName(v)}.`).at(i);
  }
  return v;
}

/** The database a table term refers to: an explicit `r.db()` argument or the `db` optarg. */
function dbAndName(call: TermCall, ev: Evaluator): { db: string; name: string } {
  if (call.args.length >= 2) {
    const db = ev.arg(call, 0);
    if (!(db instanceof DbValue)) {
      throw logicError(`Expected type DATABASE but found ${typeName(db)}.`).at(0);
    }
    return { db: db.name, name: nameArg(call, ev, 1) };
  }
  return { db: call.ctx.defaultDb, name: nameArg(call, ev, 0) };
}

function dbArg(call: TermCall, ev: Evaluator): string {
  if (call.args.length === 0) return call.ctx.defaultDb;
  const db = ev.arg(call, 0);
  if (!(db instanceof DbValue)) {
    throw logicError(`Expected type DATABASE but found ${typeName(db)}.`).at(0);
  }
  return db.name;
}

/** `r.db(name).table(name)` as a value; fails if it does not exist. */
export function openTable(call: TermCall, dbName: string, name: string): TableValue {
  const store = call.ctx.store;
  if (dbName === SYSTEM_DB) {
    const sys = systemTable(name);
    if (sys === undefined) {
      throw new ReqlRuntimeError(`Table \`${dbName}.${name}\` does not exist.`);
    }
    return new TableValue(dbName, name, sys);
  }
  if (!store.hasDb(dbName)) throw missingDb(dbName);
  return new TableValue(dbName, name, store.table(dbName, name));
}

function tableTarget(call: TermCall, ev: Evaluator): Value {
  const v = ev.arg(call, 0);
  if (v instanceof TableValue || v instanceof DbValue) return v;
  throw logicError(`Expected type TABLE but found ${typeName(v)}.`).at(0);
}

/** Registers the administration terms. */
export function registerAdmin(reg: Registry): void {
  reg.set(TermType.DB, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const name = nameArg(call, ev, 0);
      if (!call.ctx.store.hasDb(name)) throw missingDb(name);
      return new DbValue(name);
    },
  });
  reg.set(TermType.TABLE, {
    minArgs: 1,
    maxArgs: 2,
    optargs: ["read_mode", "identifier_format", "use_outdated"],
    run: (call, ev) => {
      const { db, name } = dbAndName(call, ev);
      const mode = ev.optarg(call, "read_mode");
      if (mode !== undefined && !READ_MODES.includes(String(mode))) {
        throw logicError(
          `Read mode \`${
            String(mode)
          }\` unrecognized (options are "majority", "single", and "outdated").`,
        ).at("read_mode");
      }
      return openTable(call, db, name);
    },
  });
  reg.set(TermType.DB_LIST, { maxArgs: 0, run: (call) => call.ctx.store.dbNames() });
  reg.set(TermType.DB_CREATE, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const db = call.ctx.store.createDb(nameArg(call, ev, 0));
      return { config_changes: [{ new_val: dbConfig(db), old_val: null }], dbs_created: 1 };
    },
  });
  reg.set(TermType.DB_DROP, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const { db, tablesDropped } = call.ctx.store.dropDb(nameArg(call, ev, 0));
      return {
        config_changes: [{ new_val: null, old_val: dbConfig(db) }],
        dbs_dropped: 1,
        tables_dropped: tablesDropped,
      };
    },
  });
  reg.set(TermType.TABLE_LIST, {
    maxArgs: 1,
    run: (call, ev) => {
      const db = dbArg(call, ev);
      if (db === SYSTEM_DB) return systemTableNames();
      return [...call.ctx.store.db(db).tables.keys()].sort();
    },
  });
  reg.set(TermType.TABLE_CREATE, {
    minArgs: 1,
    maxArgs: 2,
    optargs: [
      "primary_key",
      "shards",
      "replicas",
      "primary_replica_tag",
      "nonvoting_replica_tags",
      "durability",
    ],
    run: (call, ev) => {
      const { db, name } = dbAndName(call, ev);
      const primaryKey = ev.optarg(call, "primary_key");
      const shards = ev.optarg(call, "shards");
      const replicas = ev.optarg(call, "replicas");
      const table = call.ctx.store.createTable(db, name, {
        primaryKey: primaryKey === undefined ? undefined : String(primaryKey),
        shards: shards === undefined ? undefined : Number(shards),
        replicas: replicas === undefined || typeof replicas === "object"
          ? undefined
          : Number(replicas),
      });
      const durability = ev.optarg(call, "durability");
      if (durability === "soft") table.durability = "soft";
      return {
        config_changes: [{
          new_val: tableConfig(table, call.ctx.store.server.name),
          old_val: null,
        }],
        tables_created: 1,
      };
    },
  });
  reg.set(TermType.TABLE_DROP, {
    minArgs: 1,
    maxArgs: 2,
    run: (call, ev) => {
      const { db, name } = dbAndName(call, ev);
      const config = tableConfig(call.ctx.store.table(db, name), call.ctx.store.server.name);
      call.ctx.store.dropTable(db, name);
      return { config_changes: [{ new_val: null, old_val: config }], tables_dropped: 1 };
    },
  });
  reg.set(TermType.CONFIG, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const target = tableTarget(call, ev);
      if (target instanceof DbValue) return dbConfig(call.ctx.store.db(target.name));
      const user = (target as TableValue).user;
      if (user === undefined) {
        throw new ReqlRuntimeError(
          "Database `rethinkdb` is special; you can't configure the tables in it.",
        );
      }
      // As on the real server: a single selection of `rethinkdb.table_config`, so that
      // `config().update(...)` works.
      const config = tableConfig(user, call.ctx.store.server.name);
      const system = systemTable("table_config")!;
      return new SingleSelection(
        new TableValue("rethinkdb", "table_config", system),
        user.id,
        config,
      );
    },
  });
  reg.set(TermType.STATUS, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const target = tableTarget(call, ev);
      const user = target instanceof TableValue ? target.user : undefined;
      if (user === undefined) {
        throw logicError(`Expected type TABLE but found ${typeName(target)}.`);
      }
      return tableStatus(user, call.ctx.store.server.name);
    },
  });
  reg.set(TermType.WAIT, {
    maxArgs: 1,
    optargs: ["wait_for", "timeout"],
    run: (call, ev) => {
      const waitFor = ev.optarg(call, "wait_for");
      if (
        waitFor !== undefined &&
        !["ready_for_outdated_reads", "ready_for_reads", "ready_for_writes", "all_replicas_ready"]
          .includes(String(waitFor))
      ) {
        throw logicError(
          `Unknown table readiness state: '${
            String(waitFor)
          }', must be one of 'ready_for_outdated_reads', 'ready_for_reads', 'ready_for_writes', or 'all_replicas_ready'`,
        ).at("wait_for");
      }
      const timeout = ev.optarg(call, "timeout");
      const store = call.ctx.store;
      let tables: Table[];
      let ready: number;
      if (call.args.length === 0) {
        tables = store.allTables();
        ready = tables.length;
      } else {
        const target = tableTarget(call, ev);
        const user = target instanceof TableValue ? target.user : undefined;
        tables = target instanceof DbValue
          ? [...store.db(target.name).tables.values()]
          : user === undefined
          ? []
          : [user];
        ready = target instanceof DbValue ? tables.length : 1;
      }
      // Tables not ready since a simulated restart: the connection waits, then runs this again.
      const pending = tables.flatMap((t) => t.notReady === undefined ? [] : [t.notReady]);
      if (pending.length > 0) {
        throw new WaitForTables(
          Promise.all(pending).then(() => {}),
          typeof timeout === "number" ? timeout * 1000 : undefined,
        );
      }
      return { ready };
    },
  });
  reg.set(TermType.SYNC, {
    minArgs: 1,
    maxArgs: 1,
    run: (call, ev) => {
      const target = tableTarget(call, ev);
      const user = target instanceof TableValue ? target.user : undefined;
      if (user !== undefined) {
        user.checkWritable();
        // Everything written so far is on disk now: a restart no longer loses it.
        user.softWrites.clear();
      }
      return { synced: 1 } as DatumObject;
    },
  });
}
