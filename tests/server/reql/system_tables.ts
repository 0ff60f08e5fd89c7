/**
 * The tables of the `rethinkdb` system database that backup tools read: `table_config`,
 * `table_status`, `db_config`, `server_status`, `server_config`, `users` (its `password` field
 * can be updated), plus empty `current_issues`, `jobs`, `logs`, `stats`, `permissions` and a
 * `cluster_config` row.
 *
 * @module
 */

import type { DatumObject } from "./datum.ts";
import { dbConfig, tableConfig, tableStatus } from "../store/describe.ts";
import type { Store } from "../store/store.ts";

/** A read-only (or, for `users`, partly writable) table computed from the store. */
export interface SystemTable {
  readonly name: string;
  readonly primaryKey: string;
  rows(store: Store): DatumObject[];
  /** Applies an `update()` patch to one row; returns false if nothing changed. */
  update?(store: Store, key: unknown, patch: DatumObject): boolean;
}

function byId(rows: DatumObject[]): DatumObject[] {
  // The real server returns system table rows in id order.
  return rows.sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1));
}

function fixed(name: string, rows: DatumObject[] = []): SystemTable {
  return { name, primaryKey: "id", rows: () => rows };
}

const TABLES: SystemTable[] = [
  {
    name: "table_config",
    primaryKey: "id",
    rows: (store) => byId(store.allTables().map((t) => tableConfig(t, store.server.name))),
    // Only the settings a restore re-applies; shards and replicas need a reconfigure.
    update: (store, key, patch) => {
      const table = store.tableById(String(key));
      if (table === undefined) return false;
      let changed = false;
      if (patch.durability === "hard" || patch.durability === "soft") {
        changed ||= table.durability !== patch.durability;
        table.durability = patch.durability;
      }
      if (patch.write_acks === "majority" || patch.write_acks === "single") {
        changed ||= table.writeAcks !== patch.write_acks;
        table.writeAcks = patch.write_acks;
      }
      return changed;
    },
  },
  {
    name: "table_status",
    primaryKey: "id",
    rows: (store) => byId(store.allTables().map((t) => tableStatus(t, store.server.name))),
  },
  {
    name: "db_config",
    primaryKey: "id",
    rows: (store) => byId(store.allDbs().map(dbConfig)),
  },
  {
    name: "server_status",
    primaryKey: "id",
    rows: (store) => [{
      id: store.server.id,
      name: store.server.name,
      network: {
        canonical_addresses: [{ host: "127.0.0.1", port: 29015 }],
        cluster_port: 29015,
        connected_to: {},
        hostname: store.server.name,
        http_admin_port: "<no http admin>",
        reql_port: 28015,
        time_connected: timeDatum(store.server.startedAt),
      },
      process: {
        argv: ["rethinkdb"],
        cache_size_mb: 100,
        pid: Deno.pid,
        time_started: timeDatum(store.server.startedAt),
        version: store.server.version,
      },
    }],
  },
  {
    name: "server_config",
    primaryKey: "id",
    rows: (store) => [{
      cache_size_mb: "auto",
      id: store.server.id,
      name: store.server.name,
      tags: ["default"],
    }],
  },
  {
    name: "users",
    primaryKey: "id",
    rows: (store) =>
      store.users.names().map((name) => ({
        id: name,
        password: store.users.get(name)!.isSet,
      })),
    update: (store, key, patch) => {
      const name = String(key);
      if (store.users.get(name) === undefined || !("password" in patch)) return false;
      const password = patch.password;
      if (password === false || password === null) store.users.setPassword(name, null);
      else if (typeof password === "string") store.users.setPassword(name, password);
      else if (typeof password === "object" && password !== null && "password" in password) {
        store.users.setPassword(name, String((password as DatumObject).password));
      } else return false;
      return true;
    },
  },
  fixed("cluster_config", [{ heartbeat_timeout_secs: 10, id: "heartbeat" }]),
  fixed("current_issues"),
  fixed("jobs"),
  fixed("logs"),
  fixed("permissions"),
  fixed("stats"),
];

/** The system table with this name, if any. */
export function systemTable(name: string): SystemTable | undefined {
  return TABLES.find((t) => t.name === name);
}

/** Names of the system tables, sorted (what `r.db("rethinkdb").tableList()` returns). */
export function systemTableNames(): string[] {
  return TABLES.map((t) => t.name).sort();
}

function timeDatum(date: Date): DatumObject {
  return { $reql_type$: "TIME", epoch_time: date.getTime() / 1000, timezone: "+00:00" };
}
