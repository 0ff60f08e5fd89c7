/**
 * Which tables a dump exports: the `-e DB` / `-e DB.TABLE` selections resolved against the
 * server, checked before anything is written.
 *
 * @module
 */

import type { TableName } from "../connection/driver.ts";
import { BackupError, UsageError } from "../errors.ts";

/** The system database; the official tool refuses to dump it, and so do we. */
export const SYSTEM_DB = "rethinkdb";

/** One `-e` value, parsed: a whole database, or one table of it. */
export interface Selection {
  db: string;
  /** Absent for a whole database. */
  table?: string;
}

/** What {@link planTables} needs from a connection. */
export interface Catalog {
  listDatabases(): Promise<string[]>;
  listTables(): Promise<TableName[]>;
}

/**
 * Parses one `-e` value. Database and table names cannot contain `.`, so the first `.`
 * separates them.
 *
 * @example
 * ```ts
 * parseSelection("league"); // { db: "league" }
 * parseSelection("league.users"); // { db: "league", table: "users" }
 * ```
 */
export function parseSelection(text: string): Selection {
  const dot = text.indexOf(".");
  const db = dot < 0 ? text : text.slice(0, dot);
  const table = dot < 0 ? undefined : text.slice(dot + 1);
  if (db === "" || table === "") {
    throw new UsageError(`-e \`${text}\`: expected DB or DB.TABLE`);
  }
  if (db === SYSTEM_DB) {
    throw new UsageError(
      `-e \`${text}\`: the system database \`${SYSTEM_DB}\` cannot be dumped; name user databases or tables`,
    );
  }
  return table === undefined ? { db } : { db, table };
}

/**
 * The tables to export, sorted by database then table, each once. With no selections: every
 * table of every user database. A selected database or table that does not exist is an error.
 *
 * @example
 * ```ts
 * const tables = await planTables(conn, ["league", "other.hooks_only"]);
 * // [{ db: "league", table: "empty" }, …, { db: "other", table: "hooks_only" }]
 * ```
 */
export async function planTables(catalog: Catalog, exports: string[] = []): Promise<TableName[]> {
  // Parse every value first so a typo is reported without a round trip to the server.
  const selections = exports.map(parseSelection);
  const all = await catalog.listTables();
  const chosen = new Map<string, TableName>();
  const add = (name: TableName) => chosen.set(`${name.db}.${name.table}`, name);
  if (selections.length === 0) {
    all.forEach(add);
  } else {
    const databases = new Set(await catalog.listDatabases());
    const known = new Set(all.map((t) => `${t.db}.${t.table}`));
    for (const selection of selections) {
      if (!databases.has(selection.db)) {
        throw new BackupError(
          `database \`${selection.db}\` does not exist; check -e (databases: ${
            listNames([...databases].filter((db) => db !== SYSTEM_DB))
          })`,
        );
      }
      if (selection.table === undefined) {
        all.filter((t) => t.db === selection.db).forEach(add);
      } else if (known.has(`${selection.db}.${selection.table}`)) {
        add({ db: selection.db, table: selection.table });
      } else {
        throw new BackupError(
          `table \`${selection.db}.${selection.table}\` does not exist; check -e (tables of \`${selection.db}\`: ${
            listNames(all.filter((t) => t.db === selection.db).map((t) => t.table))
          })`,
        );
      }
    }
  }
  return [...chosen.values()].sort(compareTables);
}

function compareTables(a: TableName, b: TableName): number {
  return a.db < b.db ? -1 : a.db > b.db ? 1 : a.table < b.table ? -1 : a.table > b.table ? 1 : 0;
}

function listNames(names: string[]): string {
  if (names.length === 0) return "none";
  const sorted = [...names].sort();
  const shown = sorted.slice(0, 10).join(", ");
  return sorted.length > 10 ? `${shown}, …` : shown;
}
